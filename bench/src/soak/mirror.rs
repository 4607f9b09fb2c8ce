//! The soak's mirror: an engine in the bench that is sent exactly what the
//! server is sent, and the comparison of its figures with the server's.

use chrono::NaiveDate;
use hall_engine::catalog::Catalog;
use hall_engine::report::{DayAggregate, DayBuilder, Dimension, ReportRow};
use hall_engine::{Command, Event, Hall, Millis};
use hall_proto::v1 as pb;
use std::collections::BTreeMap;

/// The report fields that must be equal between the server and the
/// mirror (the engine's row and the wire's have the same field names).
macro_rules! key_figures {
    ($r:expr) => {
        [
            ("arrived", $r.arrived as i64),
            ("moved_in", $r.moved_in as i64),
            ("served", $r.served as i64),
            ("unresolved", $r.unresolved as i64),
            ("no_show", $r.no_show as i64),
            ("cancelled", $r.cancelled as i64),
            ("transferred", $r.transferred as i64),
            ("expired", $r.expired as i64),
            ("called", $r.called as i64),
            ("max_wait_s", $r.max_wait_s as i64),
            ("rated", $r.rated as i64),
        ]
    };
}

pub fn differences(server: &pb::ReportRow, mirror: &ReportRow) -> Vec<String> {
    key_figures!(server)
        .iter()
        .zip(key_figures!(mirror))
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, b)| format!("{} server {} mirror {}", a.0, a.1, b.1))
        .collect()
}

/// The engine in this process that is sent what the server is sent.
pub struct Mirror {
    pub hall: Hall,
    builder: DayBuilder,
    seq: u64,
    days: BTreeMap<NaiveDate, DayAggregate>,
}

impl Mirror {
    pub fn new(catalog: &Catalog) -> Mirror {
        Mirror {
            hall: Hall::new(catalog.clone()),
            builder: DayBuilder::new(catalog),
            seq: 0,
            days: BTreeMap::new(),
        }
    }

    fn fold(&mut self, events: &[Event], at: Millis) {
        for e in events {
            self.seq += 1;
            if let Some(day) = self.builder.apply(self.seq, at, e) {
                self.days.insert(day.date, day);
            }
        }
    }

    /// As the server's writer: the tick, then the command, at `at`.
    pub fn apply(
        &mut self,
        cmd: Option<Command>,
        at: Millis,
    ) -> Result<Vec<Event>, hall_engine::EngineError> {
        let tick = hall_engine::apply(&mut self.hall, Command::Tick, at).unwrap_or_default();
        self.fold(&tick, at);
        let Some(cmd) = cmd else { return Ok(vec![]) };
        let events = hall_engine::apply(&mut self.hall, cmd, at)?;
        self.fold(&events, at);
        Ok(events)
    }

    pub fn report(&self, from: NaiveDate, to: NaiveDate) -> ReportRow {
        hall_engine::report::report(
            from,
            to,
            Dimension::Category,
            self.days.range(from..=to).map(|(_, d)| d),
        )
        .total
    }
}
