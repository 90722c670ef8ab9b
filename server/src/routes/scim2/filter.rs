//! SCIM filter expressions (RFC 7644 §3.4.2.2) over the user attributes we store:
//! `userName`, `emails` (`emails.value`), `name.givenName`, `name.familyName`; the operators
//! `eq ne co sw ew pr gt ge lt le`, `and`, `or`, `not ( … )` and parentheses.

use identity::users::{Attr, Filter, Op};

/// Parses a filter, or says what is wrong with it.
pub fn parse(input: &str) -> Result<Filter, String> {
    let tokens = tokenize(input)?;
    let mut parser = Parser { tokens, pos: 0 };
    let filter = parser.or()?;
    if parser.pos != parser.tokens.len() {
        return Err(format!("unexpected {:?}", parser.tokens[parser.pos]));
    }
    Ok(filter)
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
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
            _ => return Err(format!("expected an operator after {path}")),
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
            _ => Err(format!("expected a quoted value after {path}")),
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
        other => Err(format!("filtering on {other} is not supported")),
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
}
