//! Fuzz target: everything the gateway does with an untrusted request frame must return,
//! never panic: parse, validate, turn into a typed transmission, re-encode the raw message
//! (which must read back the same), read as a response, and dump.

#![no_main]

use durgate::ncpdp::{dump, encode_message, parse, parse_response, validate_request, ETX, STX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse(data) {
        let validated = validate_request(&message);
        let _ = validated.into_transmission();
        let mut again = vec![STX];
        encode_message(&message, &mut again);
        again.push(ETX);
        let reread = parse(&again).expect("a re-encoded message parses");
        assert_eq!(reread.transmission, message.transmission);
        assert_eq!(reread.groups, message.groups);
    }
    let _ = parse_response(data);
    if let Ok(decoded) = dump::decode(data) {
        let _ = (decoded.text(), decoded.json());
    }
});
