//! The C JSON door (`convstate_engine_handle_json`) on arbitrary bytes, invalid UTF-8
//! included, called the way C calls it. It must answer with a result code or an output
//! string, never crash, and a failed call must leave the output string as it was.
#![no_main]

use convstate_ffi::{
    convstate_engine, convstate_engine_free, convstate_engine_handle_json, convstate_engine_new,
    convstate_result, convstate_string, convstate_string_free, convstate_string_len,
    convstate_string_new, convstate_string_ptr,
};
use libfuzzer_sys::fuzz_target;
use std::ptr::null_mut;

const SETUP: &str = r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#;

fuzz_target!(|data: &[u8]| {
    let mut engine: *mut convstate_engine = null_mut();
    let mut out: *mut convstate_string = null_mut();
    // SAFETY: every pointer is a live local or a handle created here and freed once.
    unsafe {
        let preset = "cloud-2025";
        assert_eq!(
            convstate_engine_new(
                preset.as_ptr().cast(),
                preset.len(),
                std::ptr::null(),
                0,
                &mut engine
            ),
            convstate_result::CONVSTATE_OK
        );
        assert_eq!(
            convstate_string_new(&mut out),
            convstate_result::CONVSTATE_OK
        );
        assert_eq!(
            convstate_engine_handle_json(engine, SETUP.as_ptr().cast(), SETUP.len(), out),
            convstate_result::CONVSTATE_OK
        );
        let text = |s: *mut convstate_string| {
            std::slice::from_raw_parts(
                convstate_string_ptr(s).cast::<u8>(),
                convstate_string_len(s),
            )
            .to_vec()
        };
        // The input may hold several lines; each is one call.
        for line in data.split(|&b| b == b'\n') {
            let previous = text(out);
            let rc = convstate_engine_handle_json(engine, line.as_ptr().cast(), line.len(), out);
            let output = text(out);
            match rc {
                convstate_result::CONVSTATE_OK => {
                    assert!(
                        output.ends_with(b"\n"),
                        "each output line ends in a newline"
                    );
                    assert!(std::str::from_utf8(&output).is_ok(), "output is UTF-8");
                }
                convstate_result::CONVSTATE_ERR_INVALID_UTF8 => {
                    assert!(std::str::from_utf8(line).is_err());
                    assert_eq!(output, previous, "a failed call changed the output string");
                }
                other => panic!("unexpected result {other:?} for {line:?}"),
            }
        }
        convstate_string_free(out);
        convstate_engine_free(engine);
    }
});
