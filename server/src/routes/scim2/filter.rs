//! SCIM filter expressions (RFC 7644 §3.4.2.2) over the user attributes we store:
//! `userName`, `emails` (`emails.value`), `name.givenName`, `name.familyName`; the operators
//! `eq ne co sw ew pr gt ge lt le`, `and`, `or`, `not ( … )` and parentheses.
//!
//! Anyone holding a list scope can send one, so its size is bounded before anything
//! recurses on it: at most [`MAX_BYTES`], [`MAX_DEPTH`] nested parentheses and
//! [`MAX_TERMS`] comparisons. The parser recurses once per parenthesis, and the tree it
//! builds (and the SQL built from it, and its drop) is at most `MAX_TERMS + MAX_DEPTH`
//! deep. Reasons quote at most [`QUOTED`] characters of what was sent.

use identity::users::{Attr, Filter, Op};

/// The longest filter, in bytes.
pub const MAX_BYTES: usize = 4096;
/// The deepest nesting of parentheses.
pub const MAX_DEPTH: usize = 32;
/// The most comparisons in one filter.
pub const MAX_TERMS: usize = 100;
/// The most characters of the caller's text that a reason repeats.
pub const QUOTED: usize = 64;

/// Parses a filter, or says what is wrong with it.
pub fn parse(input: &str) -> Result<Filter, String> {
    if input.len() > MAX_BYTES {
        return Err(format!("it is longer than {MAX_BYTES} bytes"));
    }
    let tokens = tokenize(input)?;
    within_limits(&tokens)?;
    let mut parser = Parser { tokens, pos: 0 };
    let filter = parser.or()?;
    if parser.pos != parser.tokens.len() {
        return Err(format!("unexpected {}", parser.tokens[parser.pos]));
    }
    Ok(filter)
}

/// The nesting and the number of comparisons, counted without recursion.
fn within_limits(tokens: &[Token]) -> Result<(), String> {
    let mut depth = 0usize;
    let mut terms = 1usize;
    for token in tokens {
        match token {
            Token::Open => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("it nests parentheses deeper than {MAX_DEPTH}"));
                }
            }
            Token::Close => depth = depth.saturating_sub(1),
            Token::Word(w) if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") => {
                terms += 1;
                if terms > MAX_TERMS {
                    return Err(format!("it has more than {MAX_TERMS} comparisons"));
                }
            }
            Token::Word(_) | Token::Str(_) => {}
        }
    }
    Ok(())
}

/// At most [`QUOTED`] characters of `text`, marked where cut.
pub(super) fn quoted(text: &str) -> String {
    identity::text::at_most(text, QUOTED)
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) => write!(f, "{}", quoted(w)),
            Token::Str(s) => write!(f, "\"{}\"", quoted(s)),
            Token::Open => f.write_str("("),
            Token::Close => f.write_str(")"),
        }
    }
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => return Err("unterminated string".into()),
                        },
                        Some(ch) => value.push(ch),
                        None => return Err("unterminated string".into()),
                    }
                }
                tokens.push(Token::Str(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch == ' ' || ch == '(' || ch == ')' || ch == '"' {
                        break;
                    }
                    word.push(ch);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.tokens.get(self.pos) {
            Some(Token::Word(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word().as_deref() == Some("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.factor()?;
        while self.peek_word().as_deref() == Some("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.factor()?));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Filter, String> {
        if self.peek_word().as_deref() == Some("not") {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        if self.tokens.get(self.pos) == Some(&Token::Open) {
            return self.group();
        }
        self.comparison()
    }

    fn group(&mut self) -> Result<Filter, String> {
        if self.tokens.get(self.pos) != Some(&Token::Open) {
            return Err("expected (".into());
        }
        self.pos += 1;
        let inner = self.or()?;
        if self.tokens.get(self.pos) != Some(&Token::Close) {
            return Err("expected )".into());
        }
        self.pos += 1;
        Ok(inner)
    }

    fn comparison(&mut self) -> Result<Filter, String> {
        let Some(Token::Word(path)) = self.tokens.get(self.pos).cloned() else {
            return Err("expected an attribute".into());
        };
        self.pos += 1;
        let attr = attribute(&path)?;
        let op = match self.peek_word().as_deref() {
            Some("eq") => Op::Eq,
            Some("ne") => Op::Ne,
            Some("co") => Op::Co,
            Some("sw") => Op::Sw,
            Some("ew") => Op::Ew,
            Some("pr") => Op::Pr,
            Some("gt") => Op::Gt,
            Some("ge") => Op::Ge,
            Some("lt") => Op::Lt,
            Some("le") => Op::Le,
            _ => return Err(format!("expected an operator after {}", quoted(&path))),
        };
        self.pos += 1;
        if op == Op::Pr {
            return Ok(Filter::Compare(attr, op, String::new()));
        }
        match self.tokens.get(self.pos).cloned() {
            Some(Token::Str(value)) => {
                self.pos += 1;
                Ok(Filter::Compare(attr, op, value))
            }
            _ => Err(format!("expected a quoted value after {}", quoted(&path))),
        }
    }
}

fn attribute(path: &str) -> Result<Attr, String> {
    // Attribute names are case-insensitive (RFC 7643 §2.1); a schema URN prefix is allowed.
    let path = path
        .strip_prefix("urn:ietf:params:scim:schemas:core:2.0:User:")
        .unwrap_or(path)
        .to_ascii_lowercase();
    match path.as_str() {
        "username" => Ok(Attr::UserName),
        "emails" | "emails.value" => Ok(Attr::Email),
        "name.givenname" => Ok(Attr::GivenName),
        "name.familyname" => Ok(Attr::FamilyName),
        other => Err(format!("filtering on {} is not supported", quoted(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_comparisons_parse() {
        assert_eq!(
            parse(r#"userName eq "kim""#).unwrap(),
            Filter::Compare(Attr::UserName, Op::Eq, "kim".into())
        );
        assert_eq!(
            parse(r#"emails co "@example.org""#).unwrap(),
            Filter::Compare(Attr::Email, Op::Co, "@example.org".into())
        );
        assert_eq!(
            parse(r#"name.givenName SW "Ki""#).unwrap(),
            Filter::Compare(Attr::GivenName, Op::Sw, "Ki".into())
        );
    }

    #[test]
    fn logic_has_precedence_and_groups() {
        let f = parse(r#"userName sw "a" or userName sw "b" and not (emails ew ".org")"#).unwrap();
        match f {
            Filter::Or(_, right) => assert!(matches!(*right, Filter::And(_, _))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_filters_are_rejected_with_a_reason() {
        for bad in [
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"password eq "x""#,
            r#"userName eq "unterminated"#,
            r#"(userName eq "a""#,
            r#"userName eq "a" extra"#,
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// `depth` nested groups around one comparison.
    fn nested(depth: usize) -> String {
        format!(
            r#"{}userName eq "a"{}"#,
            "(".repeat(depth),
            ")".repeat(depth)
        )
    }

    /// `terms` comparisons joined by `or`.
    fn terms(terms: usize) -> String {
        vec![r#"userName eq "a""#; terms].join(" or ")
    }

    #[test]
    fn limits_are_inclusive_and_refused_one_past_them() {
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            parse(&nested(MAX_DEPTH + 1)).unwrap_err(),
            "it nests parentheses deeper than 32"
        );
        assert!(parse(&terms(MAX_TERMS)).is_ok());
        assert_eq!(
            parse(&terms(MAX_TERMS + 1)).unwrap_err(),
            "it has more than 100 comparisons"
        );
        let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_BYTES));
        assert_eq!(parse(&long).unwrap_err(), "it is longer than 4096 bytes");
        let just = format!(r#"userName eq "{}""#, "a".repeat(MAX_BYTES - 14));
        assert_eq!(just.len(), MAX_BYTES);
        assert!(parse(&just).is_ok());
    }

    #[test]
    fn a_deep_filter_is_refused_before_anything_recurses() {
        // On a thread with a small stack: a parser that recursed per parenthesis would
        // overflow it long before the 4,000th.
        let answer = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| parse(&"(".repeat(4000)))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(answer.unwrap_err(), "it nests parentheses deeper than 32");
    }

    #[test]
    fn reasons_quote_a_bounded_part_of_what_was_sent() {
        let name = "x".repeat(3000);
        for filter in [
            format!(r#"{name} eq "a""#),
            format!(r#"userName eq "a" {name}"#),
            format!(r#"userName eq "a" "{name}""#),
        ] {
            let reason = parse(&filter).unwrap_err();
            assert!(
                reason.len() < QUOTED + 64,
                "{} bytes: {reason}",
                reason.len()
            );
            assert!(reason.contains('…'), "{reason}");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// How deep a parsed filter's tree is.
        fn depth(filter: &Filter) -> usize {
            match filter {
                Filter::Compare(..) => 1,
                Filter::Not(inner) => 1 + depth(inner),
                Filter::And(a, b) | Filter::Or(a, b) => 1 + depth(a).max(depth(b)),
            }
        }

        fn comparisons(filter: &Filter) -> usize {
            match filter {
                Filter::Compare(..) => 1,
                Filter::Not(inner) => comparisons(inner),
                Filter::And(a, b) | Filter::Or(a, b) => comparisons(a) + comparisons(b),
            }
        }

        /// Pieces of filters, right and wrong, for a parser to choke on.
        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                3 => Just("(".to_owned()),
                2 => Just(")".to_owned()),
                1 => Just("and".to_owned()),
                1 => Just("OR".to_owned()),
                1 => Just("not".to_owned()),
                1 => Just("userName".to_owned()),
                1 => Just("emails.value".to_owned()),
                1 => Just("eq".to_owned()),
                1 => Just("pr".to_owned()),
                1 => Just(r#""v""#.to_owned()),
                1 => Just("\"".to_owned()),
                1 => Just("\\".to_owned()),
                1 => "[a-zA-Z.:\"\\\\()é\t ]{0,12}",
            ]
        }

        /// A filter as text: a run of `(` (sometimes thousands), then pieces.
        fn soup() -> impl Strategy<Value = String> {
            let opens = prop_oneof![0usize..40, 0usize..6000];
            (opens, prop::collection::vec(piece(), 0..300))
                .prop_map(|(opens, pieces)| format!("{}{}", "(".repeat(opens), pieces.join(" ")))
        }

        fn comparison() -> impl Strategy<Value = Filter> {
            let attr = prop_oneof![
                Just(Attr::UserName),
                Just(Attr::Email),
                Just(Attr::GivenName),
                Just(Attr::FamilyName),
            ];
            let op = prop_oneof![
                Just(Op::Eq),
                Just(Op::Ne),
                Just(Op::Co),
                Just(Op::Sw),
                Just(Op::Ew),
                Just(Op::Pr),
                Just(Op::Gt),
                Just(Op::Ge),
                Just(Op::Lt),
                Just(Op::Le),
            ];
            (attr, op, "\\PC{0,8}").prop_map(|(attr, op, value)| {
                let value = if op == Op::Pr { String::new() } else { value };
                Filter::Compare(attr, op, value)
            })
        }

        fn filter() -> impl Strategy<Value = Filter> {
            comparison().prop_recursive(6, 48, 2, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone())
                        .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                    (inner.clone(), inner.clone())
                        .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                    inner.prop_map(|a| Filter::Not(Box::new(a))),
                ]
            })
        }

        /// The filter as a client would write it, every operand in parentheses.
        fn written(filter: &Filter) -> String {
            match filter {
                Filter::Compare(attr, op, value) => {
                    let attr = match attr {
                        Attr::UserName => "userName",
                        Attr::Email => "emails",
                        Attr::GivenName => "name.givenName",
                        Attr::FamilyName => "name.familyName",
                    };
                    let op = format!("{op:?}").to_ascii_lowercase();
                    if op == "pr" {
                        format!("{attr} pr")
                    } else {
                        let value = value.replace('\\', "\\\\").replace('"', "\\\"");
                        format!(r#"{attr} {op} "{value}""#)
                    }
                }
                Filter::And(a, b) => format!("({}) and ({})", written(a), written(b)),
                Filter::Or(a, b) => format!("({}) or ({})", written(a), written(b)),
                Filter::Not(a) => format!("not ({})", written(a)),
            }
        }

        proptest! {
            /// Whatever is sent gets an answer, on a small stack, and what parses is small.
            #[test]
            fn any_text_is_parsed_or_refused_within_bounds(text in soup()) {
                let answer = std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || parse(&text).map(|f| (depth(&f), comparisons(&f))))
                    .unwrap()
                    .join()
                    .expect("the parser panicked");
                if let Ok((depth, comparisons)) = answer {
                    prop_assert!(comparisons <= MAX_TERMS);
                    prop_assert!(depth <= MAX_TERMS + MAX_DEPTH);
                }
            }

            /// A filter within the limits, written out, parses back to itself.
            #[test]
            fn written_filters_parse_back(filter in filter()) {
                let text = written(&filter);
                prop_assume!(text.len() <= MAX_BYTES);
                prop_assert_eq!(parse(&text), Ok(filter));
            }
        }
    }
}
