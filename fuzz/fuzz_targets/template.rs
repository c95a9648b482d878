//! The template renderer with hostile templates and hostile contexts: errors, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line is a JSON context when it parses, the rest the template.
    let (ctx, template) = text.split_once('\n').unwrap_or(("{}", text));
    let ctx: serde_json::Value = serde_json::from_str(ctx).unwrap_or_else(|_| {
        serde_json::json!({ "title": ctx, "text": ctx, "metrics": { "a": 1.5 }, "at_ms": -1 })
    });
    let t = clawcron::template::Templates::new("/nonexistent", chrono_tz::UTC);
    for name in ["fuzz.txt.j2", "fuzz.html.j2"] {
        let _ = t.render_str(name, name, template, &ctx);
    }
});
