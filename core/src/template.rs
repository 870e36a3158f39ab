//! Message templates: their registration, validation and statuses (RULES.md §5).
//!
//! A template is keyed by (business, name, language). Its body's variables are parsed once at
//! registration, so that a send only compares parameter counts or names.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::message::TemplateParams;
use crate::policy::{ButtonRule, Policy};

/// What a template is for; decides its price and whether consent rules for marketing apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateCategory {
    /// Promotions, offers, announcements.
    Marketing,
    /// Order updates, account alerts.
    Utility,
    /// One-time passwords.
    Authentication,
}

/// Review and quality status of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateStatus {
    /// In review.
    Pending,
    /// Sendable.
    Approved,
    /// Refused in review.
    Rejected,
    /// Low quality, still sendable until its deadline.
    Flagged,
    /// Temporarily not sendable.
    Paused,
    /// Never sendable again unless reinstated ("blocked" in some help desks).
    Disabled,
    /// The business appealed a rejection.
    InAppeal,
    /// Being deleted.
    PendingDeletion,
    /// Gone for good.
    Deleted,
    /// The business has too many templates.
    LimitExceeded,
    /// Archived by the business.
    Archived,
}

impl TemplateStatus {
    /// Only `approved` and `flagged` templates can be sent (§5).
    pub fn is_sendable(self) -> bool {
        matches!(self, TemplateStatus::Approved | TemplateStatus::Flagged)
    }
}

display_as_wire_name!(TemplateStatus, TemplateCategory, Quality, ButtonKind);
from_wire_name!(TemplateStatus, TemplateCategory, Quality, ButtonKind);

/// Quality rating (of a template or a number).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// Not rated yet; new templates start here.
    #[default]
    Unknown,
    /// Low (red).
    Low,
    /// Medium (yellow).
    Medium,
    /// High (green).
    High,
}

impl Quality {
    /// Whether this rating lifts a flag: medium or high (RULES.md §5, §6).
    pub(crate) fn is_recovery(self) -> bool {
        matches!(self, Quality::Medium | Quality::High)
    }
}

/// Kinds of template buttons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonKind {
    /// Sends a reply back to the business.
    QuickReply,
    /// Opens a web page.
    Url,
    /// Calls a phone number.
    Phone,
    /// Copies a code.
    CopyCode,
}

/// One template button.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Button {
    /// What the button does.
    pub kind: ButtonKind,
    /// Its label.
    pub label: String,
    /// For phone buttons: the number in international format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// The parts of a template a host registers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// Lowercase name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Category.
    pub category: TemplateCategory,
    /// Body with `{{1}}` or `{{name}}` variables.
    pub body: String,
    /// Optional text header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Optional footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// Buttons in display order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

/// Why a template (or a send's parameters) is invalid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TemplateProblem {
    /// A part is longer than allowed.
    #[error("{part} is {actual_chars} characters, the limit is {limit_chars}")]
    TooLong {
        /// `name`, `body`, `header`, `footer`, `button label` or `phone number`.
        part: Cow<'static, str>,
        /// The limit.
        limit_chars: u32,
        /// The actual length.
        actual_chars: u64,
    },
    /// The name is empty or not lowercase letters, digits and `_`.
    #[error("name {name:?} must be 1..={max} lowercase letters, digits or '_'", max = TEMPLATE_NAME_MAX_CHARS)]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// `{{` without a matching `}}`, or a variable with a bad name.
    #[error("malformed variable at character {position}: {detail}")]
    MalformedVariable {
        /// Character offset in the body.
        position: usize,
        /// What is wrong.
        detail: String,
    },
    /// Positional variables not numbered 1..n.
    #[error("variables must be numbered 1..{count} without gaps; {{{{{missing}}}}} is missing")]
    VariableGap {
        /// Distinct variables found.
        count: u32,
        /// The first missing number.
        missing: u32,
    },
    /// Positional and named variables mixed.
    #[error("positional and named variables cannot be mixed")]
    MixedVariables,
    /// Two variables with nothing between them.
    #[error("adjacent variables at character {position}")]
    AdjacentVariables {
        /// Character offset of the second variable.
        position: usize,
    },
    /// The body starts with a variable.
    #[error("the body starts with a variable")]
    StartsWithVariable,
    /// The body ends with a variable.
    #[error("the body ends with a variable")]
    EndsWithVariable,
    /// Too many buttons of a kind, or in total.
    #[error("{actual} {kind} buttons, the limit is {limit}")]
    TooManyButtons {
        /// Which kind (or `total`).
        kind: Cow<'static, str>,
        /// The limit.
        limit: u32,
        /// How many were given.
        actual: u32,
    },
    /// Quick replies mixed with call-to-action buttons where the rule forbids it.
    #[error("{detail}")]
    ButtonMix {
        /// Which rule was broken.
        detail: Cow<'static, str>,
    },
    /// A phone button without an international number.
    #[error("phone button {label:?} needs a number in international format (+digits)")]
    ButtonPhone {
        /// The button's label.
        label: String,
    },
    /// The body has no text.
    #[error("the body is empty")]
    EmptyBody,
    /// A header, footer or button label given without text (Meta requires text in each
    /// part a template has; leave a part out rather than send it empty).
    #[error("the {part} is empty")]
    EmptyPart {
        /// `header`, `footer` or `button label`.
        part: Cow<'static, str>,
    },
    /// Variables in the footer, which Meta fills none of (its text goes out as written).
    #[error("the footer takes no variables")]
    FooterVariables,
    /// A phone number on a button that is not a phone button.
    #[error("{kind} button {label:?} has a phone number; only phone buttons take one")]
    StrayPhone {
        /// The button's kind.
        kind: ButtonKind,
        /// The button's label.
        label: String,
    },
    /// One button breaks a rule: its label, its phone number, or its place among the
    /// others. `index` counts from 0, as the wire names an item of `buttons` (the decoder's
    /// `field "buttons[1].label"`), so that a host finds the button at fault.
    #[error("buttons[{index}]: {detail}")]
    Button {
        /// The button's position in `buttons`, from 0.
        index: u32,
        /// What is wrong with it, as the problem alone would say it.
        detail: Box<TemplateProblem>,
    },
    /// Named parameters for positional variables, or the reverse.
    #[error("the template uses {expected} variables, {given} parameters were given")]
    ParamStyle {
        /// `positional` or `named`: what the body uses.
        expected: Cow<'static, str>,
        /// What was given.
        given: Cow<'static, str>,
    },
    /// Parameter count differs from the body's variables.
    #[error("the template has {expected} variables, {actual} parameters were given")]
    ParamCount {
        /// Variables in the body.
        expected: u32,
        /// Parameters given.
        actual: u32,
    },
    /// Named parameters do not match the body's names.
    #[error("parameter names do not match: missing {missing:?}, unexpected {unexpected:?}")]
    ParamNames {
        /// Names the body uses that were not given.
        missing: Vec<String>,
        /// Names given that the body does not use.
        unexpected: Vec<String>,
    },
    /// The text header's variables break a rule (more than the policy allows, numbered
    /// with a gap, malformed): the body's rules, told apart so the host knows which part.
    #[error("header: {detail}")]
    HeaderVariables {
        /// What is wrong, as the body's problem would say it.
        detail: String,
    },
    /// A send's `header_params` do not match the header's variables.
    #[error("header parameters: {detail}")]
    HeaderParams {
        /// What does not match, as the body's problem would say it.
        detail: String,
    },
}

/// The body's variables, parsed once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variables {
    /// `{{1}}..{{n}}`.
    Positional(u32),
    /// `{{name}}`, sorted and distinct.
    Named(Vec<String>),
}

/// The longest template name, in characters (facts §6, Meta's rule for template names).
pub(crate) const TEMPLATE_NAME_MAX_CHARS: u32 = 512;

/// Whether `name` can name a template: 1..=512 lowercase letters, digits and `_` (Meta's
/// rule for template names).
pub(crate) fn is_template_name(name: &str) -> bool {
    has_template_name_alphabet(name) && name.len() <= TEMPLATE_NAME_MAX_CHARS as usize
}

/// Whether `name` is 1 or more lowercase letters, digits and `_`, whatever its length (each
/// an ASCII character: its bytes are its characters).
fn has_template_name_alphabet(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The length of a name written as template names are but longer than
/// [`TEMPLATE_NAME_MAX_CHARS`], for a refusal that names it and the limit (§8), where "must
/// be 1..=512 lowercase letters" left a host whose name was all lowercase letters to count.
pub(crate) fn template_name_too_long(name: &str) -> Option<u64> {
    (has_template_name_alphabet(name) && name.len() > TEMPLATE_NAME_MAX_CHARS as usize)
        .then_some(name.len() as u64)
}

impl TemplateSpec {
    /// [`TemplateSpec::validate`] as an engine error naming the template.
    pub fn checked(&self, policy: &Policy) -> Result<Variables, crate::Error> {
        self.validate(policy)
            .map_err(|problem| crate::Error::InvalidTemplate {
                name: crate::error::quoted(&self.name),
                language: crate::error::quoted(&self.language),
                problem,
            })
    }

    /// Validates the template against the policy and parses its variables.
    pub fn validate(&self, policy: &Policy) -> Result<Variables, TemplateProblem> {
        if let Some(actual_chars) = template_name_too_long(&self.name) {
            return Err(TemplateProblem::TooLong {
                part: "name".into(),
                limit_chars: TEMPLATE_NAME_MAX_CHARS,
                actual_chars,
            });
        }
        if !is_template_name(&self.name) {
            return Err(TemplateProblem::InvalidName {
                name: self.name.chars().take(64).collect(),
            });
        }
        let c = &policy.content;
        if self.body.trim().is_empty() {
            return Err(TemplateProblem::EmptyBody);
        }
        check_len("body", &self.body, c.template_body_max_chars)?;
        if let Some(h) = &self.header {
            check_text("header", h, c.template_header_max_chars)?;
        }
        if let Some(f) = &self.footer {
            check_text("footer", f, c.template_footer_max_chars)?;
            if f.contains("{{") {
                return Err(TemplateProblem::FooterVariables);
            }
        }
        check_buttons(&self.buttons, policy)?;
        let variables = parse_variables(&self.body)?;
        refuse_leading_zeros(&self.body)?;
        if let Some(header) = &self.header {
            let header_vars = header_variables(header)
                .and_then(|vars| refuse_leading_zeros(header).map(|()| vars))
                .map_err(|p| TemplateProblem::HeaderVariables {
                    detail: p.to_string(),
                })?;
            let count = header_vars.count();
            let styles_differ = matches!(
                (&variables, &header_vars),
                (Variables::Positional(n), Variables::Named(names))
                    | (Variables::Named(names), Variables::Positional(n))
                    if *n > 0 && !names.is_empty()
            );
            if styles_differ {
                // Meta's `parameter_format` is the whole template's: one style for every part.
                return Err(TemplateProblem::HeaderVariables {
                    detail: format!(
                        "{} variables where the body's are {}",
                        header_vars.style(),
                        variables.style()
                    ),
                });
            }
            if count > c.template_header_max_variables {
                return Err(TemplateProblem::HeaderVariables {
                    detail: format!(
                        "{count} variables, the limit is {}",
                        c.template_header_max_variables
                    ),
                });
            }
        }
        Ok(variables)
    }

    /// Checks a send's `header_params` against the header's variables: none without a
    /// header, or without variables in it. Parsed per send (only for a template whose header
    /// has a variable, or a send that gives header parameters): a header is at most a few
    /// dozen characters, and templates stay as they were saved.
    #[inline]
    pub fn check_header_params(&self, params: &TemplateParams) -> Result<(), TemplateProblem> {
        if params.is_empty() && self.header.is_none() {
            return Ok(());
        }
        self.check_header_params_slow(params)
    }

    /// The header as `params` fill it, in characters (the header as registered without
    /// them; none without a header). A variable without a parameter counts as written.
    pub fn filled_header_chars(&self, params: &TemplateParams) -> u64 {
        self.header
            .as_deref()
            .map_or(0, |header| filled_chars(header, params))
    }

    /// The body as `params` fill it, in characters, when that is over `limit` and the
    /// template has more than a body (a header, a footer or buttons); `None` otherwise. A
    /// body-only template's parameters Meta takes up to their own limit (facts §6: 32,768
    /// together). Counted only when a bound from the bytes is over the limit: a character
    /// is at least a byte, and each use of a variable adds its parameter (one may repeat).
    pub fn filled_body_over(&self, params: &TemplateParams, limit: u32) -> Option<u64> {
        if self.header.is_none() && self.footer.is_none() && self.buttons.is_empty() {
            return None;
        }
        let uses = self.body.matches("{{").count() as u64;
        let bound = self.body.len() as u64 + uses * params.longest_bytes();
        if bound <= u64::from(limit) {
            return None;
        }
        let filled = filled_chars(&self.body, params);
        (filled > u64::from(limit)).then_some(filled)
    }

    fn check_header_params_slow(&self, params: &TemplateParams) -> Result<(), TemplateProblem> {
        let header = self.header.as_deref().unwrap_or_default();
        if params.is_empty() && !header.contains("{{") {
            return Ok(());
        }
        // A header saved before its variables were checked may not parse: it then has none.
        let variables = header_variables(header).unwrap_or(Variables::Positional(0));
        variables.check_params(params).map_err(|p| {
            let detail = match p {
                TemplateProblem::ParamCount { expected, actual } => format!(
                    "the header has {expected} variables, {actual} header_params were given"
                ),
                TemplateProblem::ParamStyle { expected, given } => format!(
                    "the header uses {expected} variables, {given} header_params were given"
                ),
                TemplateProblem::ParamNames {
                    missing,
                    unexpected,
                } => format!(
                    "header_params names do not match: missing {missing:?}, unexpected \
                     {unexpected:?}"
                ),
                other => other.to_string(),
            };
            TemplateProblem::HeaderParams { detail }
        })
    }
}

/// `text` as `params` fill its variables, in characters; a variable without a parameter
/// counts as written.
fn filled_chars(text: &str, params: &TemplateParams) -> u64 {
    let mut rest = text;
    let mut chars = 0;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        chars += rest[..open].chars().count() as u64;
        let written = &rest[open..open + close + 4];
        let value = params.for_variable(&after[..close]).unwrap_or(written);
        chars += value.chars().count() as u64;
        rest = &after[close + 2..];
    }
    chars + rest.chars().count() as u64
}

/// An optional part that was given: some text, within its limit.
fn check_text(part: &'static str, text: &str, limit: u32) -> Result<(), TemplateProblem> {
    if text.trim().is_empty() {
        return Err(TemplateProblem::EmptyPart { part: part.into() });
    }
    check_len(part, text, limit)
}

fn check_len(part: &'static str, text: &str, limit: u32) -> Result<(), TemplateProblem> {
    let actual = text.chars().count() as u64;
    if actual > u64::from(limit) {
        return Err(TemplateProblem::TooLong {
            part: part.into(),
            limit_chars: limit,
            actual_chars: actual,
        });
    }
    Ok(())
}

/// Refuses a variable numbered with a leading zero (`{{01}}`, which Meta refuses). Checked
/// at registration only, apart from parsing: templates saved before the check keep
/// restoring, their `{{01}}` read as `{{1}}` as it was then.
fn refuse_leading_zeros(text: &str) -> Result<(), TemplateProblem> {
    let mut from = 0;
    while let Some(found) = text[from..].find("{{0") {
        let at = from + found;
        let digits = &text[at + 2..];
        let len = digits.bytes().take_while(u8::is_ascii_digit).count();
        if len > 1 && digits[len..].starts_with("}}") {
            return Err(TemplateProblem::MalformedVariable {
                position: text[..at].chars().count(),
                detail: format!("variable number {:?} has a leading zero", &digits[..len]),
            });
        }
        from = at + 3;
    }
    Ok(())
}

/// Parses `{{1}}` / `{{name}}` variables and checks the body rules of §5.
pub fn parse_variables(body: &str) -> Result<Variables, TemplateProblem> {
    parse_part(body, true)
}

/// Parses a text header's variables with the body's rules, except that a header may start
/// or end with one (a header is often just a name or an order number with a word).
pub fn header_variables(header: &str) -> Result<Variables, TemplateProblem> {
    parse_part(header, false)
}

/// The variables of a part; `edges`: refuse a variable at its start or end (the body rule).
fn parse_part(text: &str, edges: bool) -> Result<Variables, TemplateProblem> {
    let chars: Vec<char> = text.chars().collect();
    let mut numbers: Vec<u32> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut last_end: Option<usize> = None;
    let mut first_start: Option<usize> = None;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '}' && chars.get(i + 1) == Some(&'}') {
            return Err(TemplateProblem::MalformedVariable {
                position: i,
                detail: "'}}' without an opening '{{'".into(),
            });
        }
        if !(chars[i] == '{' && chars.get(i + 1) == Some(&'{')) {
            i += 1;
            continue;
        }
        let start = i;
        let close = (start + 2..chars.len().saturating_sub(1))
            .find(|&j| chars[j] == '}' && chars[j + 1] == '}')
            .ok_or_else(|| TemplateProblem::MalformedVariable {
                position: start,
                detail: "'{{' without a closing '}}'".into(),
            })?;
        let inner: String = chars[start + 2..close].iter().collect();
        if inner.chars().all(|c| c.is_ascii_digit()) && !inner.is_empty() {
            let n: u32 = inner
                .parse()
                .map_err(|_| TemplateProblem::MalformedVariable {
                    position: start,
                    detail: format!("variable number {inner:?} is too large"),
                })?;
            if n == 0 {
                return Err(TemplateProblem::MalformedVariable {
                    position: start,
                    detail: "variables are numbered from 1".into(),
                });
            }
            numbers.push(n);
        } else if !inner.is_empty()
            && inner.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && inner
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            names.push(inner);
        } else {
            return Err(TemplateProblem::MalformedVariable {
                position: start,
                detail: format!("{{{{{inner}}}}} is neither a number nor a lowercase name"),
            });
        }
        if last_end == Some(start) {
            return Err(TemplateProblem::AdjacentVariables { position: start });
        }
        first_start.get_or_insert(start);
        last_end = Some(close + 2);
        i = close + 2;
    }
    if !numbers.is_empty() && !names.is_empty() {
        return Err(TemplateProblem::MixedVariables);
    }
    let leading_ws = chars.iter().take_while(|c| c.is_whitespace()).count();
    let trailing_end = chars.len() - chars.iter().rev().take_while(|c| c.is_whitespace()).count();
    if edges && first_start == Some(leading_ws) {
        return Err(TemplateProblem::StartsWithVariable);
    }
    if edges && last_end == Some(trailing_end) {
        return Err(TemplateProblem::EndsWithVariable);
    }
    if !names.is_empty() {
        names.sort();
        names.dedup();
        return Ok(Variables::Named(names));
    }
    numbers.sort_unstable();
    numbers.dedup();
    let count = numbers.len() as u32;
    if let Some(missing) = (1..=count).find(|n| numbers[(*n - 1) as usize] != *n) {
        return Err(TemplateProblem::VariableGap { count, missing });
    }
    Ok(Variables::Positional(count))
}

impl Variables {
    /// Checks a send's parameters against the variables: same count, or same names.
    pub fn check_params(&self, params: &TemplateParams) -> Result<(), TemplateProblem> {
        match (self, params) {
            (Variables::Positional(n), TemplateParams::Positional(p)) if p.len() == *n as usize => {
                Ok(())
            }
            (Variables::Named(names), TemplateParams::Named(given)) => {
                let missing: Vec<String> = names
                    .iter()
                    .filter(|n| !given.contains_key(*n))
                    .cloned()
                    .collect();
                let unexpected: Vec<String> = given
                    .keys()
                    .filter(|k| names.binary_search(k).is_err())
                    .cloned()
                    .collect();
                if missing.is_empty() && unexpected.is_empty() {
                    Ok(())
                } else {
                    Err(TemplateProblem::ParamNames {
                        missing,
                        unexpected,
                    })
                }
            }
            // No variables: no parameters, as an empty list or an empty map alike.
            (Variables::Named(names), TemplateParams::Positional(p))
                if names.is_empty() && p.is_empty() =>
            {
                Ok(())
            }
            (Variables::Positional(0), TemplateParams::Named(given)) if given.is_empty() => Ok(()),
            (Variables::Positional(n), TemplateParams::Named(given))
                if *n > 0 && !given.is_empty() =>
            {
                Err(TemplateProblem::ParamStyle {
                    expected: "positional".into(),
                    given: "named".into(),
                })
            }
            (Variables::Named(names), TemplateParams::Positional(given))
                if !names.is_empty() && !given.is_empty() =>
            {
                Err(TemplateProblem::ParamStyle {
                    expected: "named".into(),
                    given: "positional".into(),
                })
            }
            (expected, given) => Err(TemplateProblem::ParamCount {
                expected: expected.count(),
                actual: given.len() as u32,
            }),
        }
    }

    /// `positional` or `named`, as problems name a style.
    fn style(&self) -> &'static str {
        match self {
            Variables::Positional(_) => "positional",
            Variables::Named(_) => "named",
        }
    }

    /// Number of distinct variables.
    pub fn count(&self) -> u32 {
        match self {
            Variables::Positional(n) => *n,
            Variables::Named(v) => v.len() as u32,
        }
    }
}

/// The rules one button keeps alone: a label with text within the policy's limit, and a
/// phone number on a phone button only, in international format.
fn check_button(b: &Button, policy: &Policy) -> Result<(), TemplateProblem> {
    let label_max = policy.buttons.label_max_chars;
    if b.label.trim().is_empty() {
        return Err(TemplateProblem::EmptyPart {
            part: "button label".into(),
        });
    }
    if b.kind != ButtonKind::Phone && b.phone.is_some() {
        return Err(TemplateProblem::StrayPhone {
            kind: b.kind,
            label: b.label.clone(),
        });
    }
    let len = b.label.chars().count() as u64;
    if len > u64::from(label_max) {
        return Err(TemplateProblem::TooLong {
            part: "button label".into(),
            limit_chars: label_max,
            actual_chars: len,
        });
    }
    if b.kind == ButtonKind::Phone {
        let ok = b.phone.as_deref().is_some_and(|p| {
            p.trim_start().starts_with('+') && crate::address::normalize_phone(p).is_ok()
        });
        if !ok {
            return Err(TemplateProblem::ButtonPhone {
                label: b.label.clone(),
            });
        }
        // As written: Meta counts the characters of the value given.
        let phone = b.phone.as_deref().unwrap_or_default();
        check_len("phone number", phone, policy.buttons.phone_max_chars)?;
    }
    Ok(())
}

/// `detail` as the problem of the button at `index`.
fn button_problem(index: usize, detail: TemplateProblem) -> TemplateProblem {
    TemplateProblem::Button {
        index: index as u32,
        detail: Box::new(detail),
    }
}

fn check_buttons(buttons: &[Button], policy: &Policy) -> Result<(), TemplateProblem> {
    for (index, b) in buttons.iter().enumerate() {
        check_button(b, policy).map_err(|detail| button_problem(index, detail))?;
    }
    let count = |kind: ButtonKind| buttons.iter().filter(|b| b.kind == kind).count() as u32;
    let (quick, url, phone, copy) = (
        count(ButtonKind::QuickReply),
        count(ButtonKind::Url),
        count(ButtonKind::Phone),
        count(ButtonKind::CopyCode),
    );
    let over = |kind: &'static str, limit: u32, actual: u32| {
        (actual > limit).then(|| TemplateProblem::TooManyButtons {
            kind: kind.into(),
            limit,
            actual,
        })
    };
    let problem = match &policy.buttons.rule {
        ButtonRule::Exclusive {
            quick_reply_max,
            call_to_action_max,
            url_max,
            phone_max,
        } => {
            if quick > 0 && (url + phone + copy) > 0 {
                Some(TemplateProblem::ButtonMix {
                    detail: "quick-reply and call-to-action buttons cannot be mixed".into(),
                })
            } else if let Some(index) = buttons.iter().position(|b| b.kind == ButtonKind::CopyCode)
            {
                Some(button_problem(
                    index,
                    TemplateProblem::ButtonMix {
                        detail: "copy-code buttons are not available under this policy".into(),
                    },
                ))
            } else {
                over("quick_reply", *quick_reply_max, quick)
                    .or_else(|| over("call_to_action", *call_to_action_max, url + phone))
                    .or_else(|| over("url", *url_max, url))
                    .or_else(|| over("phone", *phone_max, phone))
            }
        }
        ButtonRule::Grouped {
            total_max,
            url_max,
            phone_max,
            copy_code_max,
        } => over("total", *total_max, buttons.len() as u32)
            .or_else(|| over("url", *url_max, url))
            .or_else(|| over("phone", *phone_max, phone))
            .or_else(|| over("copy_code", *copy_code_max, copy))
            .or_else(|| {
                // Quick replies must form one contiguous group: the button named is the
                // first quick reply after the group ended.
                let quick_reply = |b: &Button| b.kind == ButtonKind::QuickReply;
                let first = buttons.iter().position(quick_reply)?;
                let end = first
                    + buttons[first..]
                        .iter()
                        .take_while(|b| quick_reply(b))
                        .count();
                let stray = end + buttons[end..].iter().position(quick_reply)?;
                Some(button_problem(
                    stray,
                    TemplateProblem::ButtonMix {
                        detail: "quick-reply buttons must be grouped together".into(),
                    },
                ))
            }),
    };
    problem.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_and_named_variables() {
        assert_eq!(
            parse_variables("Order {{1}} is ready"),
            Ok(Variables::Positional(1))
        );
        assert_eq!(
            parse_variables("Hi {{2}}, order {{1}} for {{2}}."),
            Ok(Variables::Positional(2))
        );
        assert_eq!(
            parse_variables("Hi {{first_name}}, see you."),
            Ok(Variables::Named(vec!["first_name".into()]))
        );
        assert_eq!(
            parse_variables("No variables"),
            Ok(Variables::Positional(0))
        );
    }

    #[test]
    fn body_rules() {
        assert_eq!(
            parse_variables("{{1}} is ready"),
            Err(TemplateProblem::StartsWithVariable)
        );
        assert_eq!(
            parse_variables("Ready: {{1}}  "),
            Err(TemplateProblem::EndsWithVariable)
        );
        assert_eq!(
            parse_variables("Hi {{1}}{{2}} there"),
            Err(TemplateProblem::AdjacentVariables { position: 8 })
        );
        assert_eq!(
            parse_variables("Hi {{1}} and {{3}} ok"),
            Err(TemplateProblem::VariableGap {
                count: 2,
                missing: 2
            })
        );
        assert_eq!(
            parse_variables("Hi {{1}} and {{name}} ok"),
            Err(TemplateProblem::MixedVariables)
        );
        assert!(matches!(
            parse_variables("Hi {{1} ok"),
            Err(TemplateProblem::MalformedVariable { .. })
        ));
        assert!(matches!(
            parse_variables("Hi {{ }} ok"),
            Err(TemplateProblem::MalformedVariable { .. })
        ));
        assert!(matches!(
            parse_variables("Hi 1}} ok"),
            Err(TemplateProblem::MalformedVariable { .. })
        ));
        assert!(matches!(
            parse_variables("Hi {{0}} ok"),
            Err(TemplateProblem::MalformedVariable { .. })
        ));
        assert_eq!(
            refuse_leading_zeros("Hi {{1}} and {{01}} ok")
                .unwrap_err()
                .to_string(),
            "malformed variable at character 13: variable number \"01\" has a leading zero"
        );
        assert_eq!(refuse_leading_zeros("Hi {{0}}, {{10}}, {{0x}} ok"), Ok(()));
        // Read as it was before the check, for templates saved then.
        assert_eq!(
            parse_variables("Hi {{01}} ok"),
            Ok(Variables::Positional(1))
        );
        assert_eq!(
            parse_variables("Hi {{10}} ok {{1}} {{2}} {{3}} {{4}} {{5}} {{6}} {{7}} {{8}} {{9}} x"),
            Ok(Variables::Positional(10))
        );
    }

    #[test]
    fn a_button_problem_names_the_button_from_0() {
        use ButtonKind::*;
        let classic = Policy::preset("classic").unwrap();
        let cloud = Policy::preset("cloud-2025").unwrap();
        let problem = |buttons: Vec<(ButtonKind, &str)>, policy: &Policy| {
            spec(buttons).validate(policy).unwrap_err().to_string()
        };
        let mut labelled = spec(vec![(Url, "Site"), (Phone, "Call us")]);
        labelled.buttons[1].phone = Some("5550001111".into());
        assert_eq!(
            labelled.validate(&cloud).unwrap_err().to_string(),
            "buttons[1]: phone button \"Call us\" needs a number in international format (+digits)"
        );
        labelled.buttons[1].phone = Some("+1 (555) 000-1111 ext. 1234".into());
        assert_eq!(
            labelled.validate(&cloud).unwrap_err().to_string(),
            "buttons[1]: phone button \"Call us\" needs a number in international format \
             (+digits)"
        );
        labelled.buttons[0].phone = Some("+15550001111".into());
        assert_eq!(
            labelled.validate(&cloud).unwrap_err().to_string(),
            "buttons[0]: url button \"Site\" has a phone number; only phone buttons take one"
        );
        assert_eq!(
            problem(vec![(QuickReply, "Yes"), (QuickReply, " ")], &cloud),
            "buttons[1]: the button label is empty"
        );
        assert_eq!(
            problem(
                vec![
                    (QuickReply, "a"),
                    (QuickReply, "b"),
                    (QuickReply, &"L".repeat(26))
                ],
                &cloud
            ),
            "buttons[2]: button label is 26 characters, the limit is 25"
        );
        assert_eq!(
            problem(
                vec![
                    (QuickReply, "a"),
                    (Url, "b"),
                    (QuickReply, "c"),
                    (QuickReply, "d")
                ],
                &cloud
            ),
            "buttons[2]: quick-reply buttons must be grouped together"
        );
        assert_eq!(
            problem(
                vec![(Url, "a"), (QuickReply, "b"), (Url, "c"), (QuickReply, "d")],
                &cloud
            ),
            "buttons[3]: quick-reply buttons must be grouped together"
        );
        assert_eq!(
            problem(vec![(Url, "a"), (CopyCode, "b")], &classic),
            "buttons[1]: copy-code buttons are not available under this policy"
        );
        // A rule of the whole list names no button.
        assert_eq!(
            problem(vec![(QuickReply, "a"), (Url, "b")], &classic),
            "quick-reply and call-to-action buttons cannot be mixed"
        );
    }

    #[test]
    fn every_part_given_has_text_and_one_variable_style() {
        let cloud = Policy::preset("cloud-2025").unwrap();
        let problem = |edit: &dyn Fn(&mut TemplateSpec)| {
            let mut t = spec(vec![(ButtonKind::QuickReply, "Yes")]);
            edit(&mut t);
            t.validate(&cloud).map(|_| ()).map_err(|p| p.to_string())
        };
        assert_eq!(problem(&|_| {}), Ok(()));
        assert_eq!(
            problem(&|t| t.header = Some(" ".into())),
            Err("the header is empty".into())
        );
        assert_eq!(
            problem(&|t| t.footer = Some(String::new())),
            Err("the footer is empty".into())
        );
        assert_eq!(
            problem(&|t| t.buttons[0].label = String::new()),
            Err("buttons[0]: the button label is empty".into())
        );
        assert_eq!(
            problem(&|t| t.buttons[0].phone = Some("+15550001111".into())),
            Err(
                "buttons[0]: quick_reply button \"Yes\" has a phone number; only phone buttons \
                 take one"
                    .into()
            )
        );
        // One parameter format for the whole template, as Meta's `parameter_format` is.
        assert_eq!(
            problem(&|t| {
                t.header = Some("Order {{order}}".into());
                t.body = "Hello {{1}}, it shipped.".into();
            }),
            Err("header: named variables where the body's are positional".into())
        );
        assert_eq!(
            problem(&|t| {
                t.header = Some("Order {{1}}".into());
                t.body = "Hello {{name}}, it shipped.".into();
            }),
            Err("header: positional variables where the body's are named".into())
        );
        // A part without variables goes with either style.
        assert_eq!(
            problem(&|t| {
                t.header = Some("Order {{order}}".into());
                t.body = "Hello, it shipped.".into();
            }),
            Ok(())
        );
        assert_eq!(
            problem(&|t| {
                t.header = Some("Your order".into());
                t.body = "Hello {{name}}, it shipped.".into();
            }),
            Ok(())
        );
    }

    #[test]
    fn params_match_exactly() {
        let v = Variables::Positional(2);
        assert!(v
            .check_params(&TemplateParams::Positional(vec!["a".into(), "b".into()]))
            .is_ok());
        assert_eq!(
            v.check_params(&TemplateParams::Positional(vec!["a".into()])),
            Err(TemplateProblem::ParamCount {
                expected: 2,
                actual: 1
            })
        );
        assert_eq!(
            v.check_params(&TemplateParams::Named(
                [("order".to_string(), "A-1".to_string())].into()
            )),
            Err(TemplateProblem::ParamStyle {
                expected: "positional".into(),
                given: "named".into()
            })
        );
        let named = Variables::Named(vec!["name".into()]);
        let given = TemplateParams::Named([("nme".to_string(), "x".to_string())].into());
        assert!(matches!(
            named.check_params(&given),
            Err(TemplateProblem::ParamNames { .. })
        ));
    }

    fn spec(buttons: Vec<(ButtonKind, &str)>) -> TemplateSpec {
        TemplateSpec {
            name: "t".into(),
            language: "en".into(),
            category: TemplateCategory::Utility,
            body: "Hello".into(),
            header: None,
            footer: None,
            buttons: buttons
                .into_iter()
                .map(|(kind, label)| Button {
                    kind,
                    label: label.into(),
                    phone: (kind == ButtonKind::Phone).then(|| "+15550001111".into()),
                })
                .collect(),
        }
    }

    #[test]
    fn a_header_is_measured_as_its_parameters_fill_it() {
        use std::collections::BTreeMap;
        let mut t = spec(vec![]);
        assert_eq!(t.filled_header_chars(&TemplateParams::default()), 0);
        t.header = Some("Hi {{1}}, order {{1}}!".into());
        let positional = TemplateParams::Positional(vec!["Zoë".into()]);
        // "Hi " + 3 + ", order " + 3 + "!": a repeated variable counts each time it is filled.
        assert_eq!(t.filled_header_chars(&positional), 3 + 3 + 8 + 3 + 1);
        t.header = Some("Hi {{name}}".into());
        let named = TemplateParams::Named(BTreeMap::from([("name".into(), "Kim".into())]));
        assert_eq!(t.filled_header_chars(&named), 6);
        // A variable given no parameter counts as written; an unclosed `{{` is text.
        assert_eq!(
            t.filled_header_chars(&positional),
            "Hi {{name}}".len() as u64
        );
        t.header = Some("Hi {{1".into());
        assert_eq!(t.filled_header_chars(&positional), 6);
    }

    #[test]
    fn empty_body_is_refused() {
        let classic = Policy::preset("classic").unwrap();
        let mut empty = spec(vec![]);
        empty.body = "  ".into();
        assert_eq!(empty.validate(&classic), Err(TemplateProblem::EmptyBody));
    }

    #[test]
    fn button_rules_per_profile() {
        use ButtonKind::*;
        let classic = Policy::preset("classic").unwrap();
        let cloud = Policy::preset("cloud-2025").unwrap();
        let four_quick = spec(vec![
            (QuickReply, "a"),
            (QuickReply, "b"),
            (QuickReply, "c"),
            (QuickReply, "d"),
        ]);
        assert!(matches!(
            four_quick.validate(&classic),
            Err(TemplateProblem::TooManyButtons { limit: 3, .. })
        ));
        assert!(four_quick.validate(&cloud).is_ok());
        let mixed = spec(vec![(QuickReply, "a"), (Url, "b")]);
        assert!(matches!(
            mixed.validate(&classic),
            Err(TemplateProblem::ButtonMix { .. })
        ));
        assert!(mixed.validate(&cloud).is_ok());
        let split = spec(vec![(QuickReply, "a"), (Url, "b"), (QuickReply, "c")]);
        assert!(matches!(
            split.validate(&cloud),
            Err(TemplateProblem::Button { index: 2, detail })
                if matches!(*detail, TemplateProblem::ButtonMix { .. })
        ));
        let long = spec(vec![(QuickReply, "twenty-one characters")]);
        assert!(matches!(
            long.validate(&classic),
            Err(TemplateProblem::Button { index: 0, detail })
                if matches!(*detail, TemplateProblem::TooLong { limit_chars: 20, .. })
        ));
        assert!(long.validate(&cloud).is_ok());
        let three_urls = spec(vec![(Url, "a"), (Url, "b"), (Url, "c")]);
        assert!(
            matches!(three_urls.validate(&cloud), Err(TemplateProblem::TooManyButtons { ref kind, .. }) if kind == "url")
        );
    }
}
