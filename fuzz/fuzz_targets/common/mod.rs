//! Input decoding shared by fuzz targets (each target is its own crate and includes this
//! module with `mod common;`).

/// Two strings from the input: separated by the byte 0xFF (which UTF-8 never uses; other
/// invalid UTF-8 becomes U+FFFD; without a 0xFF the second is empty). A leading 0xFE
/// instead builds both from `pieces`, one byte per piece (the byte modulo the number of
/// pieces), so that the fuzzer composes likely strings.
pub fn two_strings(data: &[u8], pieces: &[&str]) -> (String, String) {
    let (use_pieces, data) = match data.split_first() {
        Some((0xFE, rest)) => (true, rest),
        _ => (false, data),
    };
    let (x, y) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = |bytes: &[u8]| -> String {
        if use_pieces {
            bytes
                .iter()
                .map(|&i| pieces[usize::from(i) % pieces.len()])
                .collect()
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        }
    };
    (text(x), text(y))
}
