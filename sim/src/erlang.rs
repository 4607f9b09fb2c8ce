//! Erlang C: the M/M/c queue in closed form, and the staffing question
//! "how few windows meet this service target?".

/// Probability that an arrival has to wait, for offered load `a` erlangs
/// (arrival rate × mean service time) and `c` servers. 1 when `a >= c`.
pub fn prob_wait(a: f64, c: u32) -> f64 {
    if c == 0 || a >= c as f64 {
        return 1.0;
    }
    if a <= 0.0 {
        return 0.0;
    }
    // Erlang B by the stable recurrence, then C from B.
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let rho = a / c as f64;
    b / (1.0 - rho + rho * b)
}

/// Mean wait in queue (same unit as `service`), for arrival rate `lambda`
/// per unit time and mean service time `service`. Infinite when overloaded.
pub fn mean_wait(lambda: f64, service: f64, c: u32) -> f64 {
    let a = lambda * service;
    if a >= c as f64 {
        return f64::INFINITY;
    }
    prob_wait(a, c) * service / (c as f64 - a)
}

/// Share of arrivals that wait at most `t`: 1 − P(wait)·e^{−(c−a)t/s}.
pub fn service_level(lambda: f64, service: f64, c: u32, t: f64) -> f64 {
    let a = lambda * service;
    if a >= c as f64 {
        return 0.0;
    }
    1.0 - prob_wait(a, c) * (-(c as f64 - a) * t / service).exp()
}

/// The fewest servers for which at least `level` of arrivals wait at most `t`.
pub fn servers_needed(lambda: f64, service: f64, t: f64, level: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let mut c = (lambda * service).floor() as u32 + 1;
    while service_level(lambda, service, c, t) < level {
        c += 1;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_values() {
        // M/M/1: P(wait) = rho, Wq = rho/(mu - lambda).
        assert!((prob_wait(0.5, 1) - 0.5).abs() < 1e-12);
        assert!((mean_wait(0.5, 1.0, 1) - 1.0).abs() < 1e-12);
        // M/M/2 with a = 1: P(wait) = 1/3, Wq = 1/3 service times.
        assert!((prob_wait(1.0, 2) - 1.0 / 3.0).abs() < 1e-12);
        assert!((mean_wait(1.0, 1.0, 2) - 1.0 / 3.0).abs() < 1e-12);
        // The classic call-centre example: 100 calls per 30 min, 3 min each
        // (a = 10 erlangs), 11 agents: P(wait) ≈ 0.6821, ASA ≈ 2.046 min,
        // share answered within 20 s ≈ 0.3896; 13 agents reach 0.7956, 14 reach 0.8884.
        let a = 10.0;
        assert!(
            (prob_wait(a, 11) - 0.6821).abs() < 1e-3,
            "{}",
            prob_wait(a, 11)
        );
        assert!((mean_wait(100.0 / 30.0, 3.0, 11) - 2.046).abs() < 1e-2);
        assert!((service_level(100.0 / 30.0, 3.0, 11, 1.0 / 3.0) - 0.3896).abs() < 1e-3);
        assert!((service_level(100.0 / 30.0, 3.0, 13, 1.0 / 3.0) - 0.7956).abs() < 1e-3);
        // Overload.
        assert_eq!(prob_wait(3.0, 3), 1.0);
        assert!(mean_wait(1.0, 3.0, 3).is_infinite());
    }

    #[test]
    fn staffing_is_the_smallest_that_meets_the_target() {
        let (l, s, t, level) = (100.0 / 30.0, 3.0, 1.0 / 3.0, 0.8);
        let c = servers_needed(l, s, t, level);
        assert_eq!(c, 14);
        assert!(service_level(l, s, c, t) >= level);
        assert!(service_level(l, s, c - 1, t) < level);
        assert_eq!(servers_needed(0.0, 3.0, 1.0, 0.8), 0);
    }
}
