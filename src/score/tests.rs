use super::*;
use proptest::prelude::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn counts(values: &[i16]) -> Counts {
    let mut c = Counts::default();
    for v in values {
        c.add(*v, 1);
    }
    c
}

#[test]
fn hand_computed_intervals() {
    // Values from the textbook formula, computed independently (Python, 12 digits).
    let cases = [
        (0, 1, 0.0, 79.345068820820),
        (1, 1, 20.654931179180, 100.0),
        (45, 50, 78.639768451387, 95.652423534324),
        (0, 10, 0.0, 27.753280302606),
        (80, 100, 71.117083363575, 86.663306710285),
    ];
    for (s, n, lo, hi) in cases {
        let [l, h] = wilson(s, n).unwrap();
        assert!(
            (l - lo).abs() < 1e-9 && (h - hi).abs() < 1e-9,
            "{s}/{n}: [{l}, {h}]"
        );
    }
    assert_eq!(wilson(0, 0), None);
}

#[test]
fn hand_computed_figures() {
    // 45 of 50 satisfied: 30 fives, 15 fours, 5 twos.
    let mut c = Counts::default();
    c.add(5, 30);
    c.add(4, 15);
    c.add(2, 5);
    let f = figures(&c);
    assert_eq!((f.n, f.satisfied), (50, 45));
    assert!(close(f.satisfaction_pct.unwrap(), 90.0));
    assert!(close(f.mean.unwrap(), (150.0 + 60.0 + 10.0) / 50.0));
    // One answer, satisfied and not.
    assert!(close(
        figures(&counts(&[4])).satisfaction_pct.unwrap(),
        100.0
    ));
    assert!(close(figures(&counts(&[3])).satisfaction_pct.unwrap(), 0.0));
    // Nothing: nulls, not zeros.
    let empty = figures(&Counts::default());
    assert_eq!(
        (empty.satisfaction_pct, empty.ci95, empty.mean),
        (None, None, None)
    );
}

#[test]
fn three_level_answers_count_as_one_four_five() {
    // Không hài lòng, Hài lòng, Rất hài lòng.
    let f = figures(&counts(&[1, 4, 5, 5]));
    assert!(close(f.satisfaction_pct.unwrap(), 75.0));
    assert!(close(f.mean.unwrap(), 15.0 / 4.0));
}

#[test]
fn the_index_averages_answered_elements_or_falls_back() {
    let mut t = Tally::default();
    for v in [5, 5, 2, 4] {
        t.add("overall", v, 1);
    }
    let s = summarize(&t);
    assert_eq!(s.responses, 4);
    assert!(
        close(s.index.unwrap(), 75.0),
        "no elements: the overall share"
    );
    assert_eq!(s.elements.len(), 5, "every element is listed");
    assert_eq!(s.elements["staff"].satisfaction_pct, None);
    t.add("staff", 5, 1);
    t.add("access", 2, 1);
    t.add("access", 4, 1);
    let s = summarize(&t);
    assert!(close(s.index.unwrap(), (100.0 + 50.0) / 2.0));
    assert_eq!(
        s.distribution,
        [("1", 0), ("2", 1), ("3", 0), ("4", 1), ("5", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>()
    );
    let empty = summarize(&Tally::default());
    assert_eq!((empty.responses, empty.index), (0, None));
}

#[test]
fn bands_follow_the_decree_by_default() {
    let b = Bands::default();
    assert_eq!(b.band(90.0), Band::Outstanding);
    assert_eq!(b.band(89.999), Band::Good);
    assert_eq!(b.band(70.0), Band::Good);
    assert_eq!(b.band(69.9), Band::Completed);
    assert_eq!(b.band(50.0), Band::Completed);
    assert_eq!(b.band(49.9), Band::NotCompleted);
    assert!(b.is_valid());
    assert!(
        !Bands {
            outstanding: 60.0,
            good: 70.0,
            completed: 50.0
        }
        .is_valid()
    );
}

fn candidate(code: &str, satisfied: u64, n: u64) -> Candidate {
    let mut t = Tally::default();
    t.add("overall", 5, satisfied);
    t.add("overall", 1, n - satisfied);
    Candidate {
        code: code.to_string(),
        summary: summarize(&t),
    }
}

#[test]
fn ranking_order_ties_and_insufficient_data() {
    let rows = rank(
        vec![
            candidate("D", 10, 10),   // too few
            candidate("B", 90, 100),  // 90%, n 100
            candidate("A", 45, 50),   // 90%, n 50: lower bound lower than B's
            candidate("C", 180, 200), // 90%, n 200: highest lower bound
            candidate("E", 30, 40),   // 75%
            candidate("F", 90, 100),  // same as B: by code
            candidate("G", 0, 5),     // too few
        ],
        30,
        &Bands::default(),
    );
    let order: Vec<(&str, Option<u32>, Band)> = rows
        .iter()
        .map(|r| (r.candidate.code.as_str(), r.rank, r.band))
        .collect();
    assert_eq!(
        order,
        [
            ("C", Some(1), Band::Outstanding),
            ("B", Some(2), Band::Outstanding),
            ("F", Some(3), Band::Outstanding),
            ("A", Some(4), Band::Outstanding),
            ("E", Some(5), Band::Good),
            ("D", None, Band::InsufficientData),
            ("G", None, Band::InsufficientData),
        ]
    );
    let counts = band_counts(rows.iter().map(|r| r.band));
    assert_eq!(counts["outstanding"], 4);
    assert_eq!(counts["insufficient_data"], 2);
    assert_eq!(counts["not_completed"], 0);
}

/// A naive recomputation straight from raw answers, written without the module's helpers.
fn naive(answers: &[i16]) -> (usize, Option<f64>, Option<f64>) {
    if answers.is_empty() {
        return (0, None, None);
    }
    let sat = answers.iter().filter(|a| **a >= 4).count();
    let mean = answers.iter().map(|a| f64::from(*a)).sum::<f64>() / answers.len() as f64;
    (
        answers.len(),
        Some(100.0 * sat as f64 / answers.len() as f64),
        Some(mean),
    )
}

proptest! {
    #[test]
    fn figures_match_a_naive_recount(answers in proptest::collection::vec(1i16..=5, 0..400)) {
        let f = figures(&counts(&answers));
        let (n, pct, mean) = naive(&answers);
        prop_assert_eq!(f.n as usize, n);
        match (f.satisfaction_pct, pct) {
            (Some(a), Some(b)) => prop_assert!(close(a, b)),
            (a, b) => prop_assert_eq!(a, b),
        }
        match (f.mean, mean) {
            (Some(a), Some(b)) => prop_assert!(close(a, b)),
            (a, b) => prop_assert_eq!(a, b),
        }
    }

    #[test]
    fn the_interval_contains_the_share_within_bounds(s in 0u64..5000, extra in 0u64..5000) {
        let n = s + extra;
        match wilson(s, n) {
            None => prop_assert_eq!(n, 0),
            Some([lo, hi]) => {
                let pct = 100.0 * s as f64 / n as f64;
                prop_assert!(0.0 <= lo && lo <= pct && pct <= hi && hi <= 100.0, "{lo} {pct} {hi}");
            }
        }
    }

    #[test]
    fn merging_tallies_equals_counting_together(
        a in proptest::collection::vec((0usize..6, 1i16..=5), 0..200),
        b in proptest::collection::vec((0usize..6, 1i16..=5), 0..200),
    ) {
        let keys = ["overall", "access", "procedure", "staff", "result", "feedback"];
        let tally = |rows: &[(usize, i16)]| {
            let mut t = Tally::default();
            for (k, v) in rows {
                t.add(keys[*k], *v, 1);
            }
            t
        };
        let mut merged = tally(&a);
        merged.merge(&tally(&b));
        let all: Vec<_> = a.iter().chain(&b).copied().collect();
        prop_assert_eq!(summarize(&merged), summarize(&tally(&all)));
        // The index from raw answers: the mean of answered elements' shares.
        let shares: Vec<f64> = keys[1..]
            .iter()
            .enumerate()
            .filter_map(|(i, _)| {
                let answers: Vec<i16> = all.iter().filter(|(k, _)| *k == i + 1).map(|(_, v)| *v).collect();
                naive(&answers).1
            })
            .collect();
        let overall: Vec<i16> = all.iter().filter(|(k, _)| *k == 0).map(|(_, v)| *v).collect();
        let expected = if shares.is_empty() {
            naive(&overall).1
        } else {
            Some(shares.iter().sum::<f64>() / shares.len() as f64)
        };
        match (summarize(&merged).index, expected) {
            (Some(x), Some(y)) => prop_assert!(close(x, y)),
            (x, y) => prop_assert_eq!(x, y),
        }
    }
}
