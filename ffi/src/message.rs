//! Outbound messages: built once by the host, borrowed by send requests.

use std::ffi::c_char;

use convstate_core::message::{
    Media, OutboundMessage, ParamsConflict, TemplateMessage, TemplateParams,
};

use crate::boundary::{arg_mut, ffi_boundary, free_handle, opt_str_arg, str_arg, FfiError, Out};
use crate::codes::media_from;
use crate::convstate_result;

/// An outbound message. Create with a `convstate_message_new_*` function or
/// `convstate_message_from_json`, free with `convstate_message_free`. Send requests borrow
/// it; it may be reused for many sends.
#[derive(Debug)]
pub struct convstate_message {
    pub(crate) message: OutboundMessage,
}

fn boxed(message: OutboundMessage) -> *mut convstate_message {
    Box::into_raw(Box::new(convstate_message { message }))
}

/// A free-form text message.
#[no_mangle]
pub unsafe extern "C" fn convstate_message_new_text(
    text: *const c_char,
    text_len: usize,
    out: *mut *mut convstate_message,
) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        let text = unsafe { str_arg(text, text_len, "text") }?.to_owned();
        unsafe { out.write(boxed(OutboundMessage::Text { text })) };
        Ok(())
    }
}

/// A template message without parameters; add them with `convstate_message_add_param` or
/// `convstate_message_add_named_param`.
#[no_mangle]
pub unsafe extern "C" fn convstate_message_new_template(
    name: *const c_char,
    name_len: usize,
    language: *const c_char,
    language_len: usize,
    out: *mut *mut convstate_message,
) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        let message = OutboundMessage::Template(TemplateMessage {
            name: unsafe { str_arg(name, name_len, "name") }?.to_owned(),
            language: unsafe { str_arg(language, language_len, "language") }?.to_owned(),
            params: TemplateParams::default(),
            header_params: TemplateParams::default(),
        });
        unsafe { out.write(boxed(message)) };
        Ok(())
    }
}

/// Which parameters of a template message a call fills.
#[derive(Clone, Copy)]
enum Part {
    Body,
    Header,
}

fn template_params(
    message: &mut convstate_message,
    part: Part,
) -> Result<&mut TemplateParams, FfiError> {
    match (&mut message.message, part) {
        (OutboundMessage::Template(t), Part::Body) => Ok(&mut t.params),
        (OutboundMessage::Template(t), Part::Header) => Ok(&mut t.header_params),
        _ => Err(FfiError::new(
            convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT,
            "message is not a template message",
        )),
    }
}

/// A parameter core's [`TemplateParams`] refused to add, as the C caller's argument error.
fn conflict(conflict: ParamsConflict) -> FfiError {
    let message = match conflict {
        ParamsConflict::MixedForms => {
            "a template message takes positional or named parameters, not both".to_owned()
        }
        ParamsConflict::RepeatedName(name) => {
            format!("named parameter `{name}` was already added: each name is given once")
        }
    };
    FfiError::new(convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT, message)
}

/// Appends a positional parameter (`{{1}}`, `{{2}}`, ... in order) to a template message.
#[no_mangle]
pub unsafe extern "C" fn convstate_message_add_param(
    message: *mut convstate_message,
    value: *const c_char,
    value_len: usize,
) -> convstate_result {
    ffi_boundary! {
        unsafe { add_positional(message, value, value_len, Part::Body) }
    }
}

/// Appends a positional parameter for the template's text header (`{{1}}`; Meta allows one
/// header variable).
#[no_mangle]
pub unsafe extern "C" fn convstate_message_add_header_param(
    message: *mut convstate_message,
    value: *const c_char,
    value_len: usize,
) -> convstate_result {
    ffi_boundary! {
        unsafe { add_positional(message, value, value_len, Part::Header) }
    }
}

/// Adds a named parameter (`{{name}}`) to a template message. A name already added is refused
/// with `CONVSTATE_ERR_INVALID_ARGUMENT` (the message keeps the first value).
#[no_mangle]
pub unsafe extern "C" fn convstate_message_add_named_param(
    message: *mut convstate_message,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> convstate_result {
    ffi_boundary! {
        unsafe { add_named(message, name, name_len, value, value_len, Part::Body) }
    }
}

/// Adds a named parameter (`{{name}}`) to the template's text header. A name already added is
/// refused with `CONVSTATE_ERR_INVALID_ARGUMENT` (the message keeps the first value).
#[no_mangle]
pub unsafe extern "C" fn convstate_message_add_named_header_param(
    message: *mut convstate_message,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> convstate_result {
    ffi_boundary! {
        unsafe { add_named(message, name, name_len, value, value_len, Part::Header) }
    }
}

/// The C arguments of a positional parameter, read and appended to `part`.
///
/// # Safety
/// As the public functions that call it: each pointer NULL or valid for its length.
unsafe fn add_positional(
    message: *mut convstate_message,
    value: *const c_char,
    value_len: usize,
    part: Part,
) -> Result<(), FfiError> {
    let message = unsafe { arg_mut(message, "message") }?;
    let value = unsafe { str_arg(value, value_len, "value") }?.to_owned();
    (template_params(message, part)?)
        .push_positional(value)
        .map_err(conflict)
}

/// The C arguments of a named parameter, read and set in `part`.
///
/// # Safety
/// As the public functions that call it: each pointer NULL or valid for its length.
unsafe fn add_named(
    message: *mut convstate_message,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
    part: Part,
) -> Result<(), FfiError> {
    let message = unsafe { arg_mut(message, "message") }?;
    let name = unsafe { str_arg(name, name_len, "name") }?.to_owned();
    let value = unsafe { str_arg(value, value_len, "value") }?.to_owned();
    (template_params(message, part)?)
        .insert_named(name, value)
        .map_err(conflict)
}

/// A media message (`media`: a `convstate_media_kind`, not NONE) of `size` bytes, with an
/// optional caption (NULL for none).
#[no_mangle]
pub unsafe extern "C" fn convstate_message_new_media(
    media: u32,
    size: u64,
    caption: *const c_char,
    caption_len: usize,
    out: *mut *mut convstate_message,
) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        let body = Media {
            size,
            caption: unsafe { opt_str_arg(caption, caption_len, "caption") }?.map(str::to_owned),
            animated: false,
            media_ref: None,
        };
        let message = match media_from(media)? {
            convstate_core::message::MediaKind::Image => OutboundMessage::Image(body),
            convstate_core::message::MediaKind::Video => OutboundMessage::Video(body),
            convstate_core::message::MediaKind::Audio => OutboundMessage::Audio(body),
            convstate_core::message::MediaKind::Document => OutboundMessage::Document(body),
            convstate_core::message::MediaKind::Sticker => OutboundMessage::Sticker(body),
        };
        unsafe { out.write(boxed(message)) };
        Ok(())
    }
}

/// The attachment of a media message, for the setters below.
fn media_body(message: &mut convstate_message) -> Result<&mut Media, FfiError> {
    match &mut message.message {
        OutboundMessage::Image(m)
        | OutboundMessage::Video(m)
        | OutboundMessage::Audio(m)
        | OutboundMessage::Document(m)
        | OutboundMessage::Sticker(m) => Ok(m),
        _ => Err(FfiError::new(
            convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT,
            "message is not a media message",
        )),
    }
}

/// Names the file a media message sends (the provider's media id or the file's URL; NULL
/// for none). The duplicate check (§10) tells files apart by it: without one, two files of
/// the same size and caption are the same content, and the second is refused as a
/// duplicate within the content period.
#[no_mangle]
pub unsafe extern "C" fn convstate_message_set_media_ref(
    message: *mut convstate_message,
    media_ref: *const c_char,
    media_ref_len: usize,
) -> convstate_result {
    ffi_boundary! {
        let message = unsafe { arg_mut(message, "message") }?;
        let media_ref = unsafe { opt_str_arg(media_ref, media_ref_len, "media_ref") }?;
        media_body(message)?.media_ref = media_ref.map(str::to_owned);
        Ok(())
    }
}

/// Marks a sticker message animated (`animated` 1) or not (0), which decides its size limit
/// (`content.animated_sticker_max_bytes`, §8). Other media are refused.
#[no_mangle]
pub unsafe extern "C" fn convstate_message_set_animated(
    message: *mut convstate_message,
    animated: u8,
) -> convstate_result {
    ffi_boundary! {
        let message = unsafe { arg_mut(message, "message") }?;
        let animated = crate::engine::flag_arg(animated, "animated")?;
        if !matches!(message.message, OutboundMessage::Sticker(_)) {
            return Err(FfiError::new(
                convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT,
                "only a sticker message is animated",
            ));
        }
        media_body(message)?.animated = animated;
        Ok(())
    }
}

/// Any message from its wire-format JSON object (`{"kind":"interactive","body":"Pick",
/// "buttons":["A","B"]}`), for kinds and fields the typed constructors do not cover. On
/// success `*out` owns the new message: free it with `convstate_message_free`. JSON that is
/// not a message is `CONVSTATE_ERR_INVALID_EVENT`, its error naming the field at fault as
/// the JSON door names it in a `send` line (`field "message.text": invalid type: ...`).
#[no_mangle]
pub unsafe extern "C" fn convstate_message_from_json(
    json: *const c_char,
    json_len: usize,
    out: *mut *mut convstate_message,
) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        let json = unsafe { str_arg(json, json_len, "json") }?;
        let message = convstate_core::wire::decode_message(json)?;
        unsafe { out.write(boxed(message)) };
        Ok(())
    }
}

/// Frees a message. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn convstate_message_free(message: *mut convstate_message) {
    unsafe { free_handle(message) }
}
