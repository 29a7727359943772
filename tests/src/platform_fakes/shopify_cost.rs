//! The requested cost of a GraphQL Admin API document, by Shopify's published rules (shopify.dev, "GraphQL Admin
//! API rate limits"): a scalar or enum field costs 0, an object field 1 plus what is selected in it, a connection
//! (a field taking `first` or `last`) 2 plus `first` times its node (`nodes { … }` or `edges { node { … } }`;
//! `pageInfo` and `cursor` are part of the connection), an interface or union the most expensive of its selections
//! (`... on Type { … }`), a list of nodes by id (`nodes(ids:)`) each node so; and a mutation 10, whatever it selects.
//!
//! The fake has no schema, so it tells an object from a scalar by its selection set: with the documents the sync
//! sends (and the documentation's examples, tested below) that is the same thing.

use serde_json::Value;

/// What Shopify charges a mutation.
pub const MUTATION_COST: u64 = 10;

/// The requested cost of `document` with `variables`.
pub fn requested_cost(document: &str, variables: &Value) -> Result<u64, String> {
    let tokens = tokenize(document)?;
    let mut parser = Parser { tokens: &tokens, at: 0, variables };
    let mutation = match parser.peek() {
        Some(Token::Name(keyword)) if keyword == "mutation" => true,
        Some(Token::Name(keyword)) if keyword == "query" => false,
        Some(Token::Punct('{')) => false,
        _ => return Err("expected `query`, `mutation` or `{`".into()),
    };
    if matches!(parser.peek(), Some(Token::Name(_))) {
        parser.at += 1;
        if let Some(Token::Name(_)) = parser.peek() {
            parser.at += 1; // the operation's name
        }
        if parser.eat('(') {
            parser.skip_balanced('(', ')')?;
        }
    }
    let fields = parser.selection_set()?;
    if mutation {
        return Ok(MUTATION_COST);
    }
    fields.iter().map(|field| field.cost()).sum()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Variable(String),
    Int(u64),
    Text,
    Punct(char),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() || c == ',' => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                loop {
                    match chars.next() {
                        None => return Err("unterminated string".into()),
                        Some('\\') if !escaped => escaped = true,
                        Some('"') if !escaped => break,
                        Some(_) => escaped = false,
                    }
                }
                tokens.push(Token::Text);
            }
            '$' => tokens.push(Token::Variable(take_name(&mut chars, String::new()))),
            '.' => {
                if chars.next() != Some('.') || chars.next() != Some('.') {
                    return Err("expected `...`".into());
                }
                tokens.push(Token::Punct('.'));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut digits = String::from(c);
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_alphanumeric) {
                    digits.push(d);
                    chars.next();
                }
                tokens.push(digits.parse().map(Token::Int).unwrap_or(Token::Text));
            }
            c if c.is_ascii_alphabetic() || c == '_' => tokens.push(Token::Name(take_name(&mut chars, c.into()))),
            '{' | '}' | '(' | ')' | '[' | ']' | ':' | '!' | '=' | '@' => tokens.push(Token::Punct(c)),
            other => return Err(format!("unexpected `{other}`")),
        }
    }
    Ok(tokens)
}

fn take_name(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, mut name: String) -> String {
    while let Some(c) = chars.peek().copied().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
        name.push(c);
        chars.next();
    }
    name
}

/// A selected field, or an inline fragment (`on` names its type).
#[derive(Debug)]
struct Field {
    name: String,
    /// `first` or `last`, resolved.
    page: Option<u64>,
    /// How many ids `ids:` lists, resolved.
    ids: Option<u64>,
    fragment: bool,
    selection: Option<Vec<Field>>,
}

impl Field {
    /// What the field costs where it is selected.
    fn cost(&self) -> Result<u64, String> {
        let Some(selection) = &self.selection else { return Ok(0) };
        if self.name == "pageInfo" {
            return Ok(0);
        }
        if let Some(first) = self.page {
            let node = selection
                .iter()
                .find_map(|f| match f.name.as_str() {
                    "nodes" => f.selection.as_deref(),
                    "edges" => f.selection.as_ref()?.iter().find(|n| n.name == "node")?.selection.as_deref(),
                    _ => None,
                })
                .ok_or_else(|| format!("connection `{}` selects no nodes", self.name))?;
            return Ok(2 + first * (1 + selection_cost(node)?));
        }
        let own = selection_cost(selection)?;
        Ok(match self.ids {
            Some(ids) => ids * (1 + own),
            None if self.fragment => own,
            None => 1 + own,
        })
    }
}

/// Plain fields add up; inline fragments (the possible types of an interface or union) count at their dearest.
fn selection_cost(selection: &[Field]) -> Result<u64, String> {
    let mut plain = 0;
    let mut dearest_fragment = 0;
    for field in selection {
        let cost = field.cost()?;
        if field.fragment {
            dearest_fragment = dearest_fragment.max(cost);
        } else {
            plain += cost;
        }
    }
    Ok(plain + dearest_fragment)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    variables: &'a Value,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<&Token> {
        self.at += 1;
        self.tokens.get(self.at - 1)
    }

    fn eat(&mut self, punct: char) -> bool {
        let found = self.peek() == Some(&Token::Punct(punct));
        self.at += usize::from(found);
        found
    }

    /// Skips to the `close` matching an `open` already eaten.
    fn skip_balanced(&mut self, open: char, close: char) -> Result<(), String> {
        let mut depth = 1;
        while depth > 0 {
            match self.next() {
                None => return Err(format!("unbalanced `{open}`")),
                Some(Token::Punct(c)) if *c == open => depth += 1,
                Some(Token::Punct(c)) if *c == close => depth -= 1,
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// `{ field … }`, the `{` not yet eaten.
    fn selection_set(&mut self) -> Result<Vec<Field>, String> {
        if !self.eat('{') {
            return Err("expected `{`".into());
        }
        let mut fields = Vec::new();
        while !self.eat('}') {
            if self.eat('.') {
                match self.next() {
                    Some(Token::Name(on)) if on == "on" => {}
                    _ => return Err("expected `... on Type`".into()),
                }
                let Some(Token::Name(kind)) = self.next().cloned() else { return Err("expected a type".into()) };
                let selection = Some(self.selection_set()?);
                fields.push(Field { name: kind, page: None, ids: None, fragment: true, selection });
                continue;
            }
            let Some(Token::Name(mut name)) = self.next().cloned() else { return Err("expected a field".into()) };
            if self.eat(':') {
                let Some(Token::Name(aliased)) = self.next().cloned() else { return Err("expected a field".into()) };
                name = aliased;
            }
            let (page, ids) = if self.eat('(') { self.arguments()? } else { (None, None) };
            let selection = if self.peek() == Some(&Token::Punct('{')) { Some(self.selection_set()?) } else { None };
            fields.push(Field { name, page, ids, fragment: false, selection });
        }
        Ok(fields)
    }

    /// `name: value, …)`, the `(` eaten: the page size and the number of ids, resolved from variables.
    fn arguments(&mut self) -> Result<(Option<u64>, Option<u64>), String> {
        let (mut page, mut ids) = (None, None);
        while !self.eat(')') {
            let Some(Token::Name(argument)) = self.next().cloned() else { return Err("expected an argument".into()) };
            if !self.eat(':') {
                return Err(format!("expected `:` after `{argument}`"));
            }
            let value = match self.next().cloned() {
                Some(Token::Int(n)) => Some(Value::from(n)),
                Some(Token::Variable(name)) => Some(self.variables.get(&name).cloned().unwrap_or(Value::Null)),
                Some(Token::Punct('[')) => {
                    let start = self.at;
                    self.skip_balanced('[', ']')?;
                    Some(Value::from(self.at - start - 1))
                }
                Some(Token::Punct('{')) => {
                    self.skip_balanced('{', '}')?;
                    None
                }
                _ => None,
            };
            match argument.as_str() {
                "first" | "last" => {
                    let n = value.and_then(|v| v.as_u64()).ok_or_else(|| format!("`{argument}` must be a number"))?;
                    if !(1..=250).contains(&n) {
                        return Err(format!("`{argument}` must be between 1 and 250"));
                    }
                    page = Some(n);
                }
                "ids" => {
                    ids = value.map(|v| v.as_array().map_or_else(|| v.as_u64().unwrap_or(0), |a| a.len() as u64));
                }
                _ => {}
            }
        }
        Ok((page, ids))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cost(document: &str) -> u64 {
        requested_cost(document, &json!({})).expect("a document")
    }

    #[test]
    fn the_documentations_examples_cost_what_it_says() {
        // An object with scalar fields: 1.
        assert_eq!(cost("query { shop { id name timezoneOffsetMinutes customerAccounts } }"), 1);
        // A connection: 2 plus first × node; nested connections multiply.
        assert_eq!(cost("{ products(first: 10) { edges { node { title } } } }"), 12);
        assert_eq!(
            cost(
                "{ products(first: 10) { edges { node { title variants(first: 5) { edges { node { price } } } } } } }"
            ),
            82
        );
        // Mutations cost 10, whatever they select.
        assert_eq!(
            cost(
                "mutation { productCreate(input: { title: \"Hat\" }) { product { id variants(first: 100) { nodes { id } } } } }"
            ),
            10
        );
        // Interfaces and unions: the dearest of the possible selections.
        let union = "{ node(id: \"gid://shopify/Product/1\") { ... on Product { title } \
                     ... on Order { customer { id } lineItems(first: 3) { nodes { id } } } } }";
        assert_eq!(cost(union), 1 + (1 + 2 + 3));
    }

    #[test]
    fn the_sync_documents_cost_what_the_client_plans() {
        let variables = json!({ "first": 32, "linesFirst": 5, "variantsFirst": 20, "ids": ["a", "b"] });
        let orders = "query SyncOrders($first: Int!, $after: String, $query: String, $linesFirst: Int!) { \
             orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { pageInfo { hasNextPage endCursor } \
             nodes { id createdAt totalPriceSet { shopMoney { amount currencyCode } } customer { id } \
             lineItems(first: $linesFirst) { pageInfo { hasNextPage endCursor } nodes { id quantity product { id } \
             variant { id } discountedTotalSet { shopMoney { amount currencyCode } } } } } } }";
        assert_eq!(requested_cost(orders, &variables), Ok(2 + 32 * (1 + 2 + 1 + 2 + 5 * 5)));
        let refresh = "query RefreshProducts($ids: [ID!]!, $variantsFirst: Int!) { nodes(ids: $ids) { __typename \
             ... on Product { id variants(first: $variantsFirst) { nodes { id inventoryItem { unitCost { amount } } } } } \
             ... on InventoryItem { variant { product { id variants(first: $variantsFirst) { nodes { id } } } } } } }";
        assert_eq!(requested_cost(refresh, &variables), Ok(2 * (1 + (2 + 20 * 3))));
        assert!(requested_cost("{ products(first: 251) { nodes { id } } }", &json!({})).is_err());
        assert!(requested_cost("{ products(first: $missing) { nodes { id } } }", &json!({})).is_err());
    }
}
