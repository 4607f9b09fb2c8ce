-- 三级协同: what every site ships and the city reads.
--
-- Keys: an event is (site, seq), one site's committed log sequence number;
-- the partition key `at` is part of the primary key (PostgreSQL requires it)
-- and is a function of (site, seq), so a repeated copy is a no-op. Day
-- figures are (site, day, dim, key) and replaced whole per (site, day).
-- Nothing here identifies a citizen: events are shipped after the engine's
-- `strip_persons`, and a configuration change ships without its body.

create table sites (
    site          text primary key,
    name          text not null default '',
    region        text not null default '',
    level         text not null default 'district'
                  check (level in ('district', 'street', 'community')),
    parent        text not null default '',
    -- The last sequence number of this site's log that is in `events`.
    shipped_seq   bigint not null default 0,
    -- When the last shipped event was committed at the site.
    last_event_at timestamptz,
    -- The shipper's last contact (every few seconds while it runs).
    seen_at       timestamptz,
    -- The site's live figures at `seen_at` (waiting, windows, alerts).
    live          jsonb not null default '{}'::jsonb
);

create table events (
    site  text not null,
    seq   bigint not null,
    at    timestamptz not null,
    type  text not null,
    body  jsonb not null,
    primary key (site, seq, at)
) partition by range (at);

-- One day of one site by one dimension and key: the engine's report cell,
-- its waits as the same 3-minute histogram the reports draw (w00 = 0–3 min
-- … w20 = 60 min and more) plus their sum and maximum, so sums and means
-- over sites and days are exact and percentiles are read off the histogram.
create table day_cells (
    site          text not null,
    day           date not null,
    dim           text not null,
    key           text not null,
    arrived       integer not null,
    moved_in      integer not null,
    served        integer not null,
    unresolved    integer not null,
    no_show       integer not null,
    cancelled     integer not null,
    transferred   integer not null,
    expired       integer not null,
    called        integer not null,
    wait_sum_s    bigint not null,
    wait_max_s    integer not null,
    within_limit  integer not null,
    handled       integer not null,
    handling_s    bigint not null,
    expected_s    bigint not null,
    r1 integer not null, r2 integer not null, r3 integer not null, r4 integer not null, r5 integer not null,
    w00 integer not null, w01 integer not null, w02 integer not null, w03 integer not null,
    w04 integer not null, w05 integer not null, w06 integer not null, w07 integer not null,
    w08 integer not null, w09 integer not null, w10 integer not null, w11 integer not null,
    w12 integer not null, w13 integer not null, w14 integer not null, w15 integer not null,
    w16 integer not null, w17 integer not null, w18 integer not null, w19 integer not null,
    w20 integer not null,
    h00 integer not null, h01 integer not null, h02 integer not null, h03 integer not null,
    h04 integer not null, h05 integer not null, h06 integer not null, h07 integer not null,
    h08 integer not null, h09 integer not null, h10 integer not null, h11 integer not null,
    h12 integer not null, h13 integer not null, h14 integer not null, h15 integer not null,
    h16 integer not null, h17 integer not null, h18 integer not null, h19 integer not null,
    h20 integer not null,
    primary key (site, day, dim, key)
) partition by range (day);

-- Which (site, day) figures are in `day_cells`: `final` once the day has
-- rolled at the site (until then, today's figures so far, replaced as the
-- day goes on); `through_seq` is the site's last sequence number folded in.
create table site_days (
    site        text not null,
    day         date not null,
    final       boolean not null,
    through_seq bigint not null,
    primary key (site, day)
);

-- The 好差评 records (no personal data of the citizen; see the site's
-- RatingRecord), replaced with their day.
create table ratings (
    site      text not null,
    day       date not null,
    n         integer not null,
    rated_at  timestamptz not null,
    level     smallint not null,
    record    jsonb not null,
    primary key (site, day, n)
);
create index ratings_day on ratings (day);

-- Monthly partitions (events by UTC month, day figures by service date),
-- made on demand by whoever ships first into a month.
-- The advisory lock keeps two shippers from racing on the catalogue.
create function hall_ensure_month(d date) returns void language plpgsql as $$
declare
    m date := date_trunc('month', d)::date;
    n date := (date_trunc('month', d) + interval '1 month')::date;
    suffix text := to_char(m, 'YYYYMM');
begin
    if to_regclass('events_' || suffix) is not null
       and to_regclass('day_cells_' || suffix) is not null then
        return;
    end if;
    perform pg_advisory_xact_lock(724019);
    execute format(
        'create table if not exists %I partition of events for values from (%L) to (%L)',
        'events_' || suffix, m::timestamp at time zone 'UTC', n::timestamp at time zone 'UTC');
    execute format(
        'create table if not exists %I partition of day_cells for values from (%L) to (%L)',
        'day_cells_' || suffix, m, n);
end $$;
