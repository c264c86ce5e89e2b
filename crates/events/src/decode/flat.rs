//! The fast path of reading a line: a flat object whose values are strings, numbers, `true`,
//! `false` or `null` (what producers send), with no backslash and no control character anywhere,
//! scanned byte by byte instead of through serde_json's generic machinery. Anything else (an
//! escape, whitespace other than spaces, a nested value, a repeated key, a syntax error) is left
//! to serde_json, which then decides the line: what this scanner accepts, serde_json reads to
//! the same members, so the outcome and every error detail stay serde_json's.

use super::{Field, Fields, Member};

/// Unknown keys remembered to refuse a repeated one; a line with more goes to serde_json.
const MAX_IGNORED_KEYS: usize = 8;

/// Reads `text` (valid UTF-8) into `fields` if it is a flat object of the kind above; returns
/// false otherwise, with `fields` possibly half filled.
pub(super) fn scan<'a>(text: &'a str, fields: &mut Fields<'a>) -> bool {
    // Without a backslash or a C0 control character, every string runs from a quote to the next
    // one and is exactly what serde_json would borrow. Without DEL or the lead byte of U+0080 to
    // U+00BF either, no string holds a control character. Not short-circuited: it vectorizes.
    let (has_escape_or_c0, has_other_control_bytes) =
        text.bytes()
            .fold((false, false), |(escape, control), byte| {
                (
                    escape | (byte == b'\\') | (byte < 0x20),
                    control | (byte == 0x7F) | (byte == 0xC2),
                )
            });
    fields.may_hold_controls = has_other_control_bytes;
    !has_escape_or_c0 && Scanner { text, at: 0 }.object(fields).is_some()
}

struct Scanner<'a> {
    text: &'a str,
    /// The byte offset of the next byte to read.
    at: usize,
}

impl<'a> Scanner<'a> {
    fn object(&mut self, fields: &mut Fields<'a>) -> Option<()> {
        if self.next_token()? != b'{' {
            return None;
        }
        let mut seen = [false; Field::COUNT];
        let mut ignored = [""; MAX_IGNORED_KEYS];
        let mut ignored_count = 0;
        if self.peek_token()? == b'}' {
            self.at += 1;
        } else {
            loop {
                let key = self.string()?;
                if self.next_token()? != b':' {
                    return None;
                }
                let member = self.value()?;
                match Field::parse(key) {
                    Some(field) => {
                        let seen = &mut seen[field as usize];
                        if *seen {
                            return None;
                        }
                        *seen = true;
                        fields.members[field as usize] = member;
                    }
                    None => {
                        if ignored_count == MAX_IGNORED_KEYS
                            || ignored[..ignored_count].contains(&key)
                        {
                            return None;
                        }
                        ignored[ignored_count] = key;
                        ignored_count += 1;
                    }
                }
                match self.next_token()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        // Only whitespace may follow the object.
        self.peek_token().is_none().then_some(())
    }

    /// A member's value (`None` for `null`), or `None` outside the fast path's subset.
    fn value(&mut self) -> Option<Option<Member<'a>>> {
        match self.peek_token()? {
            b'"' => Some(Some(Member::Text(self.string()?))),
            b't' => self.literal("true").map(|()| Some(Member::Bool(true))),
            b'f' => self.literal("false").map(|()| Some(Member::Bool(false))),
            b'n' => self.literal("null").map(|()| None),
            b'-' | b'0'..=b'9' => self.number().map(|text| Some(Member::Number(text))),
            _ => None,
        }
    }

    /// A number in JSON's grammar, `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`, as its text:
    /// what serde_json keeps of it with `arbitrary_precision` (an integer that fits 64 bits is
    /// written back by serde_json, to the same text: JSON has no `+` or leading zero).
    fn number(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let digits_from = |at: usize| {
            bytes.get(at..).map_or(0, |rest| {
                rest.iter().take_while(|byte| byte.is_ascii_digit()).count()
            })
        };
        let start = self.at;
        let mut at = start + usize::from(bytes.get(start) == Some(&b'-'));
        let integer = digits_from(at);
        if integer == 0 || (integer > 1 && bytes.get(at) == Some(&b'0')) {
            return None;
        }
        at += integer;
        if bytes.get(at) == Some(&b'.') {
            let fraction = digits_from(at + 1);
            if fraction == 0 {
                return None;
            }
            at += 1 + fraction;
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1 + usize::from(matches!(bytes.get(at + 1), Some(b'+' | b'-')));
            let exponent = digits_from(at);
            if exponent == 0 {
                return None;
            }
            at += exponent;
        }
        self.at = at;
        self.text.get(start..at)
    }

    /// A string: from this quote to the next one.
    fn string(&mut self) -> Option<&'a str> {
        if self.next_token()? != b'"' {
            return None;
        }
        let start = self.at;
        let length = memchr::memchr(b'"', self.text.as_bytes().get(start..)?)?;
        self.at = start + length + 1;
        // Both ends are ASCII quotes, so on character boundaries of the valid UTF-8 line.
        self.text.get(start..start + length)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.get(self.at..)?;
        rest.starts_with(word).then(|| self.at += word.len())
    }

    /// The next byte that is not a space, consumed.
    fn next_token(&mut self) -> Option<u8> {
        let byte = self.peek_token()?;
        self.at += 1;
        Some(byte)
    }

    /// The next byte that is not a space (the only whitespace left), in place; `None` at the
    /// end.
    fn peek_token(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(&byte) = bytes.get(self.at) {
            if byte != b' ' {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }
}
