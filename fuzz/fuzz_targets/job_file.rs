//! The job-file loader (YAML → validated spec) on arbitrary bytes: errors, never a panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let global = clawcron::config::GlobalConfig::default();
    let path = std::path::Path::new("/fuzz/jobs/fuzzed.yaml");
    if let Err(diags) = clawcron::config::load_job_text(path, text, &global) {
        // Rendering a diagnostic (caret line, key, expected) must not panic either.
        for d in diags {
            let _ = d.to_string();
        }
    }
});
