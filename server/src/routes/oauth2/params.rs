//! Request parameters of the OAuth endpoints: from the query or a form body, each at most
//! once (RFC 6749 §3.1 and §3.2: "parameters MUST NOT be included more than once").

use super::error::OAuthError;
use std::collections::BTreeMap;

/// Parameters with empty values dropped (RFC 6749 §3.1: treated as omitted).
#[derive(Clone, Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// From decoded pairs; a repeated name is `invalid_request`.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        let mut map = BTreeMap::new();
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            if map.insert(name.clone(), value).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "The parameter {name} was given more than once."
                )));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parameter that must be present.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("The parameter {name} is missing.")))
    }

    /// The pairs, for rebuilding a URL.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn without(&self, name: &str) -> Self {
        let mut copy = self.clone();
        copy.0.remove(name);
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::Params;

    #[test]
    fn a_repeated_parameter_is_refused_and_empty_ones_are_omitted() {
        let pairs = vec![
            ("a".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
        ];
        assert!(Params::from_pairs(pairs).is_err());
        let params = Params::from_pairs(vec![("scope".into(), String::new())]).unwrap();
        assert!(params.get("scope").is_none());
    }
}
