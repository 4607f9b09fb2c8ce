-- A site id belongs to one installation (the site's data directory): two
-- sites set up with the same [site] id would otherwise merge their logs.
-- An operator replacing a site's machine clears `owner` to hand it over.
alter table sites add column owner text;

-- Partitions: a month whose table exists but is detached (an operator
-- archiving old months) is named as such instead of failing every insert
-- with "no partition found"; the bounds are written as explicit UTC
-- literals (independent of the session's DateStyle and TimeZone).
create or replace function hall_ensure_month(d date) returns void language plpgsql as $$
declare
    m date := date_trunc('month', d)::date;
    n date := (date_trunc('month', d) + interval '1 month')::date;
    suffix text := to_char(m, 'YYYYMM');
    t text;
begin
    if (select bool_and(c.relispartition) from pg_class c
        where c.oid in (to_regclass('events_' || suffix), to_regclass('day_cells_' || suffix)))
       and to_regclass('events_' || suffix) is not null
       and to_regclass('day_cells_' || suffix) is not null then
        return;
    end if;
    perform pg_advisory_xact_lock(724019);
    foreach t in array array['events_' || suffix, 'day_cells_' || suffix] loop
        if to_regclass(t) is not null
           and not (select c.relispartition from pg_class c where c.oid = to_regclass(t)) then
            raise exception 'table % exists but is not attached as a partition (a detached month?): drop it or attach it again', t;
        end if;
    end loop;
    execute format(
        'create table if not exists %I partition of events for values from (%L) to (%L)',
        'events_' || suffix, to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(n, 'YYYY-MM-DD') || ' 00:00:00+00');
    execute format(
        'create table if not exists %I partition of day_cells for values from (%L) to (%L)',
        'day_cells_' || suffix, to_char(m, 'YYYY-MM-DD'), to_char(n, 'YYYY-MM-DD'));
end $$;
