//! Byte classes of the RFC 3261 grammar, as 256-entry tables.
//!
//! The index pass and the typed views test one byte with one load. Each table
//! is built at compile time from the ABNF character sets, so the sets are
//! written once, in the grammar's own words.

const fn set(chars: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < chars.len() {
        t[chars[i] as usize] = true;
        i += 1;
    }
    t
}

const fn union(a: [bool; 256], b: [bool; 256]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = a[i] || b[i];
        i += 1;
    }
    t
}

const fn alnum() -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    c = b'a';
    while c <= b'z' {
        t[c as usize] = true;
        t[(c - 32) as usize] = true;
        c += 1;
    }
    t
}

/// `token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")`
pub static TOKEN: [bool; 256] = union(alnum(), set(b"-.!%*_+`'~"));

/// `word`: token characters plus `( ) < > : \ " / [ ] ? { }` (Call-ID).
pub static WORD: [bool; 256] = union(TOKEN, set(b"()<>:\\\"/[]?{}"));

/// `unreserved = alphanum / mark`, `mark = - _ . ! ~ * ' ( )`.
pub static UNRESERVED: [bool; 256] = union(alnum(), set(b"-_.!~*'()"));

/// Characters of a SIP URI user part besides escapes: unreserved and
/// `user-unreserved = & = + $ , ; ? /`.
pub static USER: [bool; 256] = union(UNRESERVED, set(b"&=+$,;?/"));

/// Password characters besides escapes: unreserved and `& = + $ ,`.
pub static PASSWORD: [bool; 256] = union(UNRESERVED, set(b"&=+$,"));

/// URI parameter name/value characters besides escapes: unreserved and
/// `param-unreserved = [ ] / : & + $`.
pub static PARAMCHAR: [bool; 256] = union(UNRESERVED, set(b"[]/:&+$"));

/// URI header name/value characters besides escapes: unreserved and
/// `hnv-unreserved = [ ] / ? : + $`.
pub static HNVCHAR: [bool; 256] = union(UNRESERVED, set(b"[]/?:+$"));

/// Host name characters (`hostname` with a lenient `_`), plus what an IPv4
/// address needs.
pub static HOSTNAME: [bool; 256] = union(alnum(), set(b"-._"));

/// Characters inside an IPv6 reference between `[` and `]`.
pub static IPV6: [bool; 256] = union(set(b"0123456789abcdefABCDEF:."), [false; 256]);

/// URI scheme characters after the first letter: `ALPHA / DIGIT / + / - / .`.
pub static SCHEME: [bool; 256] = union(alnum(), set(b"+-."));

/// Characters of a `received` parameter value: a token, or the bare IPv6
/// address that RFC 5118 §4.5 allows there.
pub static GEN_VALUE: [bool; 256] = union(TOKEN, set(b":[]"));

/// Characters that may appear, unescaped, in a URI that is not SIP/SIPS/tel
/// (absoluteURI is loose: anything visible except the delimiters of the
/// surrounding header).
pub static ABS_URI: [bool; 256] = union(union(UNRESERVED, set(b";?:@&=+$,/%#[]")), [false; 256]);

/// `true` for the bytes a header value may not carry outside a quoted-pair:
/// C0 controls other than HT, and DEL.
#[inline]
pub fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

#[inline]
pub fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[inline]
pub fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// `true` when every byte of `s` is in `class` and `s` is not empty.
#[inline]
pub fn all_in(s: &[u8], class: &[bool; 256]) -> bool {
    !s.is_empty() && s.iter().all(|&b| class[b as usize])
}

/// Checks `%HH` escapes in `s` where `class` says which bytes may stand
/// unescaped. Returns the offset of the first bad byte.
pub fn check_escaped(s: &[u8], class: &[bool; 256]) -> Result<(), usize> {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' {
            match (s.get(i + 1), s.get(i + 2)) {
                (Some(&h), Some(&l)) if is_hex(h) && is_hex(l) => i += 3,
                _ => return Err(i),
            }
        } else if class[b as usize] {
            i += 1;
        } else {
            return Err(i);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_the_rfc_set() {
        let visible: Vec<u8> = (0x21u8..0x7f).filter(|&b| TOKEN[b as usize]).collect();
        assert_eq!(
            std::str::from_utf8(&visible).unwrap(),
            "!%'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_`abcdefghijklmnopqrstuvwxyz~"
        );
        assert!(!TOKEN[b' ' as usize] && !TOKEN[b':' as usize] && !TOKEN[0]);
    }

    #[test]
    fn escapes_are_checked_to_the_end() {
        assert_eq!(check_escaped(b"a%41b", &USER), Ok(()));
        assert_eq!(check_escaped(b"a%4", &USER), Err(1));
        assert_eq!(check_escaped(b"a%", &USER), Err(1));
        assert_eq!(check_escaped(b"a%zz", &USER), Err(1));
        assert_eq!(check_escaped(b"a b", &USER), Err(1));
    }
}
