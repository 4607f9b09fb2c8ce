-- The city's reports read one dimension over a range of days across every
-- site: without this index they scan every dimension's rows of the months
-- in range (the primary key leads with the site). Measured with
-- `hall-bench city --sites 1500` (README): see docs/benchmarks.md.
create index day_cells_dim_day on day_cells (dim, day);
