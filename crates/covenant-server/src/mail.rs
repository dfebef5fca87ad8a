//! Email to requesters and customers: one-time codes, acknowledgements, extension notices,
//! referrals and answers.
//!
//! Transports: SMTP (`smtp://` or `smtps://` URL, with lettre over rustls) in production; a
//! mailbox directory (one `.eml` file per message, named so that they sort in the order sent) or
//! the console in development and tests. Messages are plain text, UTF-8, sent 8-bit, so a mailbox
//! file reads as it will be received: headers, a blank line, the text.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

/// How mail leaves the server.
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// One file per message in this directory.
    Mailbox(PathBuf),
    /// Printed to the log, for development.
    Console,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Smtp(..)"),
            Transport::Mailbox(d) => write!(f, "Mailbox({})", d.display()),
            Transport::Console => f.write_str("Console"),
        }
    }
}

/// Why mail could not be sent (or a transport set up).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("`{0}` is not an email address")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("the SMTP server refused the message: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("cannot write to the mailbox `{path}`: {source}")]
    Mailbox {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{0}` is not an SMTP address; use `smtp://USER:PASSWORD@HOST:PORT` or `smtps://…`")]
    Url(String),
}

/// A message to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sends mail from one address.
#[derive(Debug)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    seq: AtomicU64,
}

impl Mailer {
    pub fn new(transport: Transport, from: &str) -> Result<Mailer, MailError> {
        let from = from.parse().map_err(|_| MailError::Address(from.to_owned()))?;
        Ok(Mailer { transport, from, seq: AtomicU64::new(0) })
    }

    /// An SMTP transport from a URL (`smtp://user:pass@host:587?tls=required`, `smtps://…`).
    pub fn smtp(url: &str) -> Result<Transport, MailError> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map(|b| Transport::Smtp(b.build()))
            .map_err(|_| MailError::Url(url.to_owned()))
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
        let to: Mailbox = email.to.parse().map_err(|_| MailError::Address(email.to.clone()))?;
        // 8-bit, wrapped at 76 columns, so the message reads as written; text that cannot be sent
        // so (a word longer than a line) lets lettre choose an encoding instead.
        let text = wrap(&email.body.replace("\r\n", "\n"), 76);
        let body = match Body::new_with_encoding(text.clone(), ContentTransferEncoding::EightBit) {
            Ok(b) => b,
            Err(_) => Body::new(text),
        };
        let part = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(body);
        Ok(Message::builder().from(self.from.clone()).to(to).subject(&email.subject).singlepart(part)?)
    }

    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = self.message(email)?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(message).await?;
            }
            Transport::Mailbox(dir) => {
                let n = self.seq.fetch_add(1, Ordering::Relaxed);
                let name = format!("{:020}-{:06}.eml", jiff::Timestamp::now().as_microsecond(), n);
                let path = dir.join(name);
                let io = |source| MailError::Mailbox { path: dir.display().to_string(), source };
                tokio::fs::create_dir_all(dir).await.map_err(io)?;
                // Written under a temporary name, then renamed: a reader never sees half a message.
                let tmp = path.with_extension("tmp");
                tokio::fs::write(&tmp, message.formatted()).await.map_err(io)?;
                tokio::fs::rename(&tmp, &path).await.map_err(io)?;
            }
            Transport::Console => {
                let text = String::from_utf8_lossy(&message.formatted()).into_owned();
                tracing::info!(target: "covenant::mail", to = %email.to, "email (console transport):\n{text}");
            }
        }
        Ok(())
    }
}

/// Wraps each line at `width` characters, between words, keeping its indentation.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / width);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let indent: String = line.chars().take_while(|c| *c == ' ').collect();
        let mut col = 0;
        for (j, word) in line.trim_start().split(' ').enumerate() {
            let n = word.chars().count();
            if j == 0 {
                out.push_str(&indent);
                col = indent.len();
            } else if col + 1 + n > width && col > indent.len() {
                out.push('\n');
                out.push_str(&indent);
                col = indent.len();
            } else {
                out.push(' ');
                col += 1;
            }
            out.push_str(word);
            col += n;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_links_come_after_the_first_paragraph() {
        let until = "2026-06-12T10:00:00Z".parse().unwrap();
        let section = texts::downloads(&[("A report", "https://x.example/a?token=t&format=html".to_owned())], until);
        assert!(section.starts_with("You can download our answer until 12 June 2026;"), "{section}");
        assert!(section.contains("\n  A report:\n  https://x.example/a?token=t&format=html\n"), "{section}");
        let body = texts::with_section("We did it.\n\nWhat we did:\n  - x\n\nACME\n", "LINKS\n");
        assert_eq!(body, "We did it.\n\nLINKS\n\nWhat we did:\n  - x\n\nACME\n");
        assert_eq!(texts::with_section("One line.", "LINKS"), "One line.\n\nLINKS\n");
    }

    #[test]
    fn lines_wrap_between_words() {
        assert_eq!(wrap("aaa bbb ccc", 7), "aaa bbb\nccc");
        assert_eq!(wrap("  aaa bbb\n\nx", 6), "  aaa\n  bbb\n\nx");
        assert_eq!(wrap("averyverylongword b", 5), "averyverylongword\nb");
    }
}

/// The texts of the emails, in plain words.
pub mod texts {
    use covenant_core::RequestKind;

    use super::Email;

    fn when(t: jiff::Timestamp) -> String {
        t.strftime("%-d %B %Y").to_string()
    }

    pub fn code(to: &str, controller: &str, kind: RequestKind, code: &str, minutes: u64) -> Email {
        Email {
            to: to.to_owned(),
            subject: format!("Your verification code for your privacy request to {controller}"),
            body: format!(
                "We received a request for {what}.\n\n\
                 To confirm that it is yours, enter this code:\n\n    {code}\n\n\
                 The code is valid for {minutes} minutes. If you did not make this request, ignore this email: \
                 nothing will happen without the code.\n\n{controller}\n",
                what = kind.describe()
            ),
        }
    }

    pub fn acknowledgement(
        to: &str,
        controller: &str,
        kind: RequestKind,
        id: &str,
        due: jiff::Timestamp,
        verify: bool,
    ) -> Email {
        let next = if verify {
            "First we need to confirm that the request is yours: we have sent you a separate email with a code."
        } else {
            "We will now work on it."
        };
        Email {
            to: to.to_owned(),
            subject: format!("We received your privacy request ({id})"),
            body: format!(
                "We received your request for {what} on the date of this email. Its reference is {id}.\n\n\
                 {next}\n\nWe will answer by {due} at the latest.\n\n{controller}\n",
                what = kind.describe(),
                due = when(due)
            ),
        }
    }

    pub fn extension(to: &str, controller: &str, id: &str, until: jiff::Timestamp, reason: &str) -> Email {
        Email {
            to: to.to_owned(),
            subject: format!("We need more time for your privacy request ({id})"),
            body: format!(
                "We need more time to answer your request {id}, as the law allows.\n\n\
                 Why: {reason}\n\nWe will answer by {until} at the latest.\n\n{controller}\n",
                until = when(until)
            ),
        }
    }

    pub fn referral(to: &str, controller: &str, id: &str, customer: &str, contact: Option<&str>) -> Email {
        let reach = match contact {
            Some(c) => format!("You can reach them at {c}. "),
            None => String::new(),
        };
        Email {
            to: to.to_owned(),
            subject: format!("Your privacy request ({id}) concerns data we hold for {customer}"),
            body: format!(
                "The data your request {id} concerns is held by us on behalf of {customer}, who decides how it is \
                 used (the data controller); we process it only on their instructions. {reach}\
                 We have passed your request on to them; they will answer it.\n\n{controller}\n"
            ),
        }
    }

    pub fn rejection(to: &str, controller: &str, id: &str, reason: &str) -> Email {
        Email {
            to: to.to_owned(),
            subject: format!("Your privacy request ({id}) was not carried out"),
            body: format!(
                "We did not carry out your request {id}.\n\nWhy: {reason}\n\n\
                 You may complain to a data protection supervisory authority.\n\n{controller}\n"
            ),
        }
    }

    pub fn response(to: &str, controller: &str, kind: RequestKind, id: &str, summary: &str) -> Email {
        Email {
            to: to.to_owned(),
            subject: format!("Our answer to your privacy request ({id})"),
            body: format!(
                "We have carried out your request {id} for {what}.\n\n{summary}\n\
                 If you are not satisfied with this answer, you may complain to a data protection supervisory \
                 authority.\n\n{controller}\n",
                what = kind.describe()
            ),
        }
    }

    /// The paragraph of an answer email with its download links (`(what, URL)`), valid until
    /// `until`.
    pub fn downloads(links: &[(&str, String)], until: jiff::Timestamp) -> String {
        let mut s = format!(
            "You can download our answer until {}; after that the files are deleted. The links are for you \
             alone: do not forward them.\n",
            when(until)
        );
        for (what, url) in links {
            s.push_str(&format!("\n  {what}:\n  {url}\n"));
        }
        s
    }

    /// `body` with `section` as its second paragraph, after the first (which is always ours, so
    /// nothing a person wrote comes before it).
    pub fn with_section(body: &str, section: &str) -> String {
        match body.split_once("\n\n") {
            Some((first, rest)) => format!("{first}\n\n{}\n\n{rest}", section.trim_end()),
            None => format!("{}\n\n{}\n", body.trim_end(), section.trim_end()),
        }
    }

    pub fn to_customer(to: &str, controller: &str, subject: &str, body: &str) -> Email {
        Email { to: to.to_owned(), subject: subject.to_owned(), body: format!("{body}\n\n{controller}\n") }
    }
}
