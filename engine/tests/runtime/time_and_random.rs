//! Time and randomness from JavaScript.

use super::*;

#[tokio::test]
async fn date_performance_and_random_work() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var p1 = performance.now();\nvar rs = [];\nfor (var i = 0; i < 1000; i++) rs.push(Math.random());\n({now: Date.now(), date: new Date().getTime(), isDate: new Date() instanceof Date,\n  string: typeof Date(), epoch: new Date(0).toISOString(), parsed: Date.parse('2020-01-02T00:00:00Z'),\n  utc: Date.UTC(2020, 0, 2), p1: p1, p2: performance.now(),\n  min: Math.min.apply(null, rs), max: Math.max.apply(null, rs),\n  distinct: new Set(rs).size})")
            .await;
        let wall = f.env.clock.wall_ms() as f64;
        let now = body["now"].as_f64().unwrap();
        assert!((now - wall).abs() < 5_000.0, "Date.now {now} vs wall {wall}");
        let date = body["date"].as_f64().unwrap();
        assert!((date - wall).abs() < 5_000.0, "new Date {date} vs wall {wall}");
        assert_eq!(body["isDate"], true);
        assert_eq!(body["string"], "string");
        assert_eq!(body["epoch"], "1970-01-01T00:00:00.000Z");
        assert_eq!(body["parsed"], json!(1_577_923_200_000i64));
        assert_eq!(body["utc"], json!(1_577_923_200_000i64));
        let (p1, p2) = (body["p1"].as_f64().unwrap(), body["p2"].as_f64().unwrap());
        assert!(0.0 <= p1 && p1 <= p2 && p2 < 10_000.0, "performance.now {p1} {p2}");
        let (min, max) = (body["min"].as_f64().unwrap(), body["max"].as_f64().unwrap());
        assert!((0.0..1.0).contains(&min) && (0.0..1.0).contains(&max), "{min} {max}");
        assert!(body["distinct"].as_u64().unwrap() > 990, "{body}");
    })
    .await;
}
