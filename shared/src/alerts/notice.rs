//! What an alert says, and how each channel wants it: Slack's `text` and Block Kit, a Teams workflow's Adaptive Card,
//! and an e-mail's subject, plain text and HTML. Titles and names come from store data, so each format escapes them:
//! a product called `<!channel>` mentions nobody.

use serde_json::{Value, json};

use crate::{
    advisor::{Kind, Recommendation},
    config::AppUrl,
    db::advice::StoredAdvice,
    domain::{CurrencyCode, EmailAddress},
    money::format_minor,
};

/// One message: a title, a few lines, and where to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// One line that says what needs the merchant.
    pub title: String,
    /// The details, one per line.
    pub lines: Vec<String>,
    /// The dashboard page to open, when the app's address is known.
    pub link: Option<String>,
}

/// How many recommendations a weekly digest lists.
pub const DIGEST_ITEMS: usize = 5;

/// Whether a recommendation is worth interrupting the merchant for: stock that runs out within the supplier's lead
/// time (or is out already), and a day or week of revenue far outside its baseline.
pub fn is_urgent(recommendation: &Recommendation) -> bool {
    match recommendation.kind {
        Kind::Restock => {
            let figure = |name: &str| recommendation.evidence.figure(name).and_then(|f| f.value.as_f64());
            matches!((figure("cover_days"), figure("lead_time_days")), (Some(cover), Some(lead)) if cover <= lead)
        }
        Kind::RevenueAnomaly => true,
        _ => false,
    }
}

/// The dashboard's advice page under the app's address.
pub fn advice_link(app_url: Option<&AppUrl>) -> Option<String> {
    app_url.map(|base| base.join("/#/advice"))
}

fn impact_line(advice: &StoredAdvice, currency: &CurrencyCode) -> Option<String> {
    advice.recommendation.impact.as_ref().map(|impact| {
        format!("At stake: {} {currency} ({})", format_minor(impact.minor, currency.minor_digits()), impact.basis)
    })
}

impl Notice {
    /// The alert for one urgent recommendation.
    pub fn alert(advice: &StoredAdvice, currency: &CurrencyCode, link: Option<String>) -> Self {
        let r = &advice.recommendation;
        let mut lines = vec![r.action.clone()];
        lines.extend(impact_line(advice, currency));
        Self { title: r.title.clone(), lines, link }
    }

    /// The weekly digest of the open recommendations, highest stakes first.
    pub fn digest(open: &[StoredAdvice], currency: &CurrencyCode, link: Option<String>) -> Self {
        let title = match open.len() {
            0 => "Weekly digest: nothing needs you this week".to_owned(),
            1 => "Weekly digest: 1 open recommendation".to_owned(),
            _ if open.len() > DIGEST_ITEMS => format!("Weekly digest: the top {DIGEST_ITEMS} open recommendations"),
            n => format!("Weekly digest: {n} open recommendations"),
        };
        let lines = open
            .iter()
            .take(DIGEST_ITEMS)
            .map(|advice| match impact_line(advice, currency) {
                Some(impact) => format!("{} — {impact}", advice.recommendation.title),
                None => advice.recommendation.title.clone(),
            })
            .collect();
        Self { title, lines, link }
    }

    /// The sample a merchant asks for to check a channel.
    pub fn sample(channel_name: &str, link: Option<String>) -> Self {
        Self {
            title: format!("Retail AI Advisor test alert for \"{channel_name}\""),
            lines: vec![
                "This channel is set up: stock-outs within the lead time and revenue anomalies arrive here when they \
                 are found, and a digest of the open recommendations every Monday morning."
                    .to_owned(),
            ],
            link,
        }
    }

    /// A Slack incoming webhook's body: `text` for notifications, blocks for the message.
    pub fn slack_body(&self) -> Value {
        let mut blocks = vec![
            json!({ "type": "header", "text": { "type": "plain_text", "text": truncate(&self.title, 150) } }),
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": self.lines.iter().map(|l| slack_escape(l)).collect::<Vec<_>>().join("\n") } }),
        ];
        if let Some(link) = &self.link {
            blocks.push(json!({ "type": "actions", "elements": [{
                "type": "button", "text": { "type": "plain_text", "text": "Open Retail AI Advisor" }, "url": link
            }] }));
        }
        json!({ "text": slack_escape(&self.title), "blocks": blocks })
    }

    /// A Teams workflow webhook's body: a message with one Adaptive Card.
    pub fn teams_body(&self) -> Value {
        let mut body = vec![
            json!({ "type": "TextBlock", "text": self.title, "weight": "Bolder", "size": "Medium", "wrap": true }),
        ];
        body.extend(self.lines.iter().map(|line| json!({ "type": "TextBlock", "text": line, "wrap": true })));
        let actions: Vec<Value> = self
            .link
            .iter()
            .map(|link| json!({ "type": "Action.OpenUrl", "title": "Open Retail AI Advisor", "url": link }))
            .collect();
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": actions,
                }
            }]
        })
    }

    /// An Azure Communication Services Email request body.
    pub fn email_body(&self, sender: &str, recipients: &[EmailAddress]) -> Value {
        let mut text = self.lines.join("\n\n");
        let mut html = format!("<h2>{}</h2>", html_escape(&self.title));
        for line in &self.lines {
            html.push_str(&format!("<p>{}</p>", html_escape(line)));
        }
        if let Some(link) = &self.link {
            text.push_str(&format!("\n\nOpen Retail AI Advisor: {link}"));
            html.push_str(&format!("<p><a href=\"{}\">Open Retail AI Advisor</a></p>", html_escape(link)));
        }
        json!({
            "senderAddress": sender,
            "recipients": { "to": recipients.iter().map(|a| json!({ "address": a.as_ref() })).collect::<Vec<_>>() },
            "content": { "subject": self.title, "plainText": text, "html": html },
        })
    }
}

/// Slack's three control characters, escaped as its formatting guide asks.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// At most `max` characters (a Slack header's limit is 150).
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((end, _)) if text.chars().count() > max => format!("{}…", &text[..end]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            title: "Reorder <!channel> & co now".to_owned(),
            lines: vec!["Order 45 units <b>today</b>".to_owned()],
            link: Some("https://advisor.example/#/advice".to_owned()),
        }
    }

    #[test]
    fn slack_text_is_escaped_so_store_data_cannot_mention_or_link() {
        let body = notice().slack_body();
        assert_eq!(body["text"], "Reorder &lt;!channel&gt; &amp; co now");
        assert_eq!(body["blocks"][1]["text"]["text"], "Order 45 units &lt;b&gt;today&lt;/b&gt;");
        assert_eq!(body["blocks"][2]["elements"][0]["url"], "https://advisor.example/#/advice");
    }

    #[test]
    fn email_html_is_escaped_and_the_text_carries_the_link() {
        let to = [EmailAddress::parse("ops@beans.example").expect("address")];
        let body = notice().email_body("DoNotReply@advisor.example", &to);
        assert_eq!(body["recipients"]["to"][0]["address"], "ops@beans.example");
        let html = body["content"]["html"].as_str().unwrap_or_default();
        assert!(html.contains("&lt;b&gt;today&lt;/b&gt;") && !html.contains("<b>"), "{html}");
        assert!(
            body["content"]["plainText"].as_str().unwrap_or_default().ends_with("https://advisor.example/#/advice")
        );
    }

    #[test]
    fn a_teams_card_has_the_title_each_line_and_the_link() {
        let body = notice().teams_body();
        let card = &body["attachments"][0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["body"][0]["text"], "Reorder <!channel> & co now");
        assert_eq!(card["body"][1]["text"], "Order 45 units <b>today</b>");
        assert_eq!(card["actions"][0]["url"], "https://advisor.example/#/advice");
    }

    #[test]
    fn long_headers_are_cut_to_slacks_limit() {
        assert_eq!(truncate(&"x".repeat(200), 150).chars().count(), 150);
        assert_eq!(truncate("short", 150), "short");
    }
}
