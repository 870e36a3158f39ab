//! The public API's conveniences a Rust host expects: constructors for the inputs it builds,
//! `Display` as the wire names, `FromStr` for the texts it parses, and errors that are
//! `std::error::Error` (so `?` lifts them into `Box<dyn Error>`).

use convstate::decision::{ChargeCategory, FreeReason, Initiator};
use convstate::event::{Consent, EndChat, InboundKind, InitiateRequest, RegisterTemplate};
use convstate::message::{
    ContentProblem, MediaKind, ParamsConflict, TemplateMessage, TemplateParams,
};
use convstate::template::ButtonKind;
use convstate::{
    Channel, ChatEndReason, DenyReason, Duration, DurationError, Instant, OutboundMessage, Quality,
    TemplateCategory, TemplateStatus, TicketStatus, TimeZone,
};

#[test]
fn enums_display_as_their_wire_names() {
    let shown = [
        TemplateCategory::Utility.to_string(),
        TemplateStatus::Approved.to_string(),
        Quality::Low.to_string(),
        InboundKind::Reaction.to_string(),
        TicketStatus::Pending.to_string(),
        ChatEndReason::Idle.to_string(),
        FreeReason::ServiceWindow.to_string(),
        ChargeCategory::Marketing.to_string(),
        Initiator::Business.to_string(),
    ];
    let wire = [
        serde_json::to_value(TemplateCategory::Utility).unwrap(),
        serde_json::to_value(TemplateStatus::Approved).unwrap(),
        serde_json::to_value(Quality::Low).unwrap(),
        serde_json::to_value(InboundKind::Reaction).unwrap(),
        serde_json::to_value(TicketStatus::Pending).unwrap(),
        serde_json::to_value(ChatEndReason::Idle).unwrap(),
        serde_json::to_value(FreeReason::ServiceWindow).unwrap(),
        serde_json::to_value(ChargeCategory::Marketing).unwrap(),
        serde_json::to_value(Initiator::Business).unwrap(),
    ];
    for (shown, wire) in shown.iter().zip(&wire) {
        assert_eq!(Some(shown.as_str()), wire.as_str());
    }
    assert_eq!(shown[0], "utility");
    assert_eq!(shown[6], "service_window");
    // A denial shows its wire reason, as its kind does.
    let denial = DenyReason::NoOptIn;
    assert_eq!(denial.to_string(), "no_opt_in");
    assert_eq!(denial.kind().to_string(), denial.name());
}

#[test]
fn enums_an_input_names_parse_from_their_wire_names() {
    // What `Display` writes (the wire name) reads back, for every enum an input names.
    fn round_trip<T>(value: T)
    where
        T: std::fmt::Display + std::str::FromStr + PartialEq + std::fmt::Debug,
        T::Err: std::fmt::Debug,
    {
        assert_eq!(value.to_string().parse::<T>().unwrap(), value);
    }
    round_trip(Channel::Messenger);
    round_trip(MediaKind::Sticker);
    round_trip(TemplateCategory::Authentication);
    round_trip(TemplateStatus::PendingDeletion);
    round_trip(Quality::Unknown);
    round_trip(ButtonKind::QuickReply);
    round_trip(InboundKind::Reaction);
    round_trip(TicketStatus::Closed);
    round_trip(ChatEndReason::Idle);
    round_trip(FreeReason::ServiceWindow);
    round_trip(ChargeCategory::Marketing);
    round_trip(Initiator::Customer);
    assert_eq!("official".parse::<Channel>().unwrap(), Channel::Official);
    // A name that is none says which there are; the wire's names only (no Rust spelling).
    let error = "whatsapp".parse::<Channel>().unwrap_err().to_string();
    assert!(
        error.contains("`whatsapp`") && error.contains("`official`"),
        "{error}"
    );
    assert!("Official".parse::<Channel>().is_err());
    assert!("pending_deletion".parse::<TemplateStatus>().is_ok());
    assert!("PendingDeletion".parse::<TemplateStatus>().is_err());
}

#[test]
fn instants_zones_and_durations_parse_with_str_parse() {
    let at: Instant = "2026-11-02T09:00:00Z".parse().unwrap();
    assert_eq!(at, Instant::parse_rfc3339("2026-11-02T09:00:00Z").unwrap());
    assert_eq!(
        "2026-11-02 09:00".parse::<Instant>().unwrap_err().code(),
        "invalid_instant"
    );
    let zone: TimeZone = "Asia/Tokyo".parse().unwrap();
    assert_eq!(zone.name(), "Asia/Tokyo");
    assert!("asia/tokyo".parse::<TimeZone>().is_err());
    assert_eq!("90m".parse::<Duration>().unwrap(), Duration::from_mins(90));
    assert!(matches!(
        "-1h".parse::<Duration>(),
        Err(DurationError::Negative { .. })
    ));
}

/// `?` lifts each of the crate's error types into `Box<dyn Error>`, with its words.
#[test]
fn errors_are_std_errors() {
    fn conflict() -> Result<(), Box<dyn std::error::Error>> {
        let mut params = TemplateParams::default();
        params.push_positional("A-17".into())?;
        params.insert_named("order".into(), "A-17".into())?;
        Ok(())
    }
    let error = conflict().unwrap_err();
    assert!(error.downcast_ref::<ParamsConflict>().is_some());
    assert!(
        error.to_string().contains("positional and named"),
        "{error}"
    );
    let repeated = ParamsConflict::RepeatedName("order".into());
    assert_eq!(
        repeated.to_string(),
        "template parameter \"order\" given twice"
    );
    fn duration() -> Result<Duration, Box<dyn std::error::Error>> {
        Ok("1.5h".parse::<Duration>()?)
    }
    assert!(duration()
        .unwrap_err()
        .to_string()
        .contains("has a fraction"));
    let problem: Box<dyn std::error::Error> = Box::new(ContentProblem::Empty {
        item: "text".into(),
    });
    assert_eq!(problem.to_string(), "the text is empty");
}

/// The constructors give what the wire's defaults give for the same line.
#[test]
fn constructors_match_the_wire_defaults() {
    let at: Instant = "2026-11-02T09:00:00Z".parse().unwrap();
    let line = |json: &str| serde_json::from_str::<serde_json::Value>(json).unwrap();
    let same = |built: serde_json::Value, wire: &str| {
        let mut wire = line(wire);
        wire.as_object_mut().unwrap().remove("type");
        assert_eq!(built, wire);
    };
    let template = RegisterTemplate::new(
        at,
        "acme",
        "order_ready",
        "en",
        TemplateCategory::Utility,
        "Order {{1}} is ready",
    );
    let parsed: RegisterTemplate = serde_json::from_str(
        r#"{"at":"2026-11-02T09:00:00Z","business":"acme","name":"order_ready","language":"en","category":"utility","body":"Order {{1}} is ready"}"#,
    )
    .unwrap();
    assert_eq!(template, parsed);
    let end = EndChat::new(
        at,
        "+15550001111",
        "+79110000001",
        convstate::chat::ChatEnder::Agent,
    );
    same(
        serde_json::to_value(&end).unwrap(),
        r#"{"type":"end_chat","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","by":"agent","status":null}"#,
    );
    let initiate = InitiateRequest::new(
        at,
        "+15550001111",
        "+79110000001",
        OutboundMessage::text("Hi"),
    );
    assert_eq!((initiate.template, initiate.idempotency_key), (None, None));
    let by_number = Consent::for_number(at, "+15550001111", "+79110000001");
    let by_business = Consent::for_business(at, "acme", "+79110000001");
    assert_eq!(
        (by_number.business, by_number.number.as_deref()),
        (None, Some("+15550001111"))
    );
    assert_eq!(
        (by_business.business.as_deref(), by_business.number),
        (Some("acme"), None)
    );
    let plain = TemplateMessage::without_params("hello", "en");
    assert!(plain.params.is_empty() && plain.header_params.is_empty());
}
