//! Branding > Email Templates: each template's subject and bodies (the impersonation
//! notification, `?type=ImpersonationEmailNotification`, and the request for a decision,
//! `?type=ImpersonationRequestEmailNotification`), its placeholders, a live preview with
//! sample values, and reset to the built-in text.

use super::{ConsoleLayout, Failure};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The template as the editor shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EditableTemplate {
    /// The template type (WSO2's name).
    pub kind: String,
    pub title: String,
    /// When it is sent.
    pub description: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub placeholders: Vec<String>,
    /// Whether the organization has its own version.
    pub customized: bool,
    /// The template as a user would receive it, with sample values.
    pub preview: Preview,
}

/// The template rendered with sample values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Sample values of the placeholders, for previews.
#[cfg(feature = "ssr")]
const SAMPLES: &[(&str, &str)] = &[
    ("user-name", "jane.doe"),
    ("login-time", "2026-11-21T09:30:00Z"),
    ("impersonator-user-name", "sam.support"),
    ("reason", "Ticket SUP-4711: invoices missing"),
    ("ticket", "SUP-4711"),
    ("mode", "read-only"),
    ("duration-minutes", "30"),
    ("decide-by", "2026-11-22T09:30:00Z"),
    (
        "access-requests-url",
        "https://id.example.com/myaccount/access-requests",
    ),
];

/// The template types the page edits: (type, title, when it is sent).
pub const KINDS: &[(&str, &str, &str)] = &[
    (
        "ImpersonationEmailNotification",
        "Impersonation notification",
        "Sent to a user when someone starts impersonating them.",
    ),
    (
        "ImpersonationRequestEmailNotification",
        "Impersonation request",
        "Sent to a user when an administrator asks to impersonate them and the organization asks for the user's approval.",
    ),
];

/// The type `kind` names, or the first.
fn kind_of(kind: &str) -> &'static (&'static str, &'static str, &'static str) {
    KINDS.iter().find(|(k, ..)| *k == kind).unwrap_or(&KINDS[0])
}

#[cfg(feature = "ssr")]
fn sample(template: &identity::mail::Template) -> Preview {
    let rendered = identity::mail::render(template, SAMPLES);
    Preview {
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
    }
}

#[cfg(feature = "ssr")]
fn organization_template(subject: String, html: String, text: String) -> identity::mail::Template {
    identity::mail::Template {
        subject,
        html,
        text,
    }
}

/// Permission: the Console and `internal_email_template_view`.
#[server]
pub async fn get_template(kind: String) -> Result<EditableTemplate, ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    use identity::mail;
    let me = require_console_scope("internal_email_template_view")
        .await?
        .user;
    let organization = crate::ssr::own_organization(&me, "internal_email_template_view").await?;
    let (kind, title, description) = *kind_of(&kind);
    let t = mail::template(&context()?.db, organization, kind, mail::DEFAULT_LOCALE)
        .await
        .map_err(internal)?;
    Ok(EditableTemplate {
        kind: kind.to_owned(),
        title: title.to_owned(),
        description: description.to_owned(),
        customized: t != mail::default_template(kind),
        preview: sample(&t),
        placeholders: mail::placeholders(kind)
            .iter()
            .map(|p| format!("{{{{{p}}}}}"))
            .collect(),
        subject: t.subject,
        html: t.html,
        text: t.text,
    })
}

/// Renders the template being edited with sample values, as the user would receive it.
/// Permission: the Console and `internal_email_template_view`.
#[server]
pub async fn preview_template(
    subject: String,
    html: String,
    text: String,
) -> Result<Preview, ServerFnError> {
    use crate::ssr::require_console_scope;
    require_console_scope("internal_email_template_view").await?;
    Ok(sample(&organization_template(subject, html, text)))
}

/// Saves the organization's version. Permission: the Console and
/// `internal_email_template_update`.
#[server]
pub async fn save_template(
    kind: String,
    subject: String,
    html: String,
    text: String,
) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    use identity::mail;
    let me = require_console_scope("internal_email_template_update")
        .await?
        .user;
    let organization = crate::ssr::own_organization(&me, "internal_email_template_update").await?;
    if subject.trim().is_empty() || (html.trim().is_empty() && text.trim().is_empty()) {
        return Err(invalid("A template needs a subject and a body."));
    }
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    mail::set_template(
        &txn,
        organization,
        kind_of(&kind).0,
        mail::DEFAULT_LOCALE,
        &organization_template(subject, html, text),
    )
    .await
    .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// Back to the built-in template. Permission: the Console and
/// `internal_email_template_update`.
#[server]
pub async fn reset_template(kind: String) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    use identity::mail;
    let me = require_console_scope("internal_email_template_update")
        .await?
        .user;
    let organization = crate::ssr::own_organization(&me, "internal_email_template_update").await?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    mail::reset_template(&txn, organization, kind_of(&kind).0, mail::DEFAULT_LOCALE)
        .await
        .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// `GET /console/email-templates[?type=…]`
#[component]
pub fn EmailTemplatesPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let kind = move || query.with(|q| kind_of(&q.get("type").unwrap_or_default()).0.to_owned());
    let save = ServerAction::<SaveTemplate>::new();
    let reset = ServerAction::<ResetTemplate>::new();
    let template = Resource::new(
        move || (kind(), save.version().get(), reset.version().get()),
        |(kind, ..)| get_template(kind),
    );
    let tabs = move || {
        let current = kind();
        KINDS
            .iter()
            .map(|(k, title, _)| {
                view! {
                    <li><a href=format!("/console/email-templates?type={k}")
                        aria-current=(current == *k).then_some("page")>{*title}</a></li>
                }
            })
            .collect_view()
    };
    view! {
        <ConsoleLayout title="Email templates">
            <p class="muted">"Branding"</p>
            <h1>"Email templates"</h1>
            <nav aria-label="Templates"><ul class="chips">{tabs}</ul></nav>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match template.await {
                        Ok(t) => view! { <TemplateEditor template=t save reset/> }.into_any(),
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn TemplateEditor(
    template: EditableTemplate,
    save: ServerAction<SaveTemplate>,
    reset: ServerAction<ResetTemplate>,
) -> impl IntoView {
    let subject = RwSignal::new(template.subject.clone());
    let html = RwSignal::new(template.html.clone());
    let text = RwSignal::new(template.text.clone());
    // The first preview comes with the page; edits ask the server again (an action, not
    // a resource: nothing to hydrate).
    let render = ServerAction::<PreviewTemplate>::new();
    let refresh = move || {
        render.dispatch(PreviewTemplate {
            subject: subject.get_untracked(),
            html: html.get_untracked(),
            text: text.get_untracked(),
        });
    };
    let initial = template.preview.clone();
    let preview = Memo::new(move |_| {
        render
            .value()
            .get()
            .and_then(Result::ok)
            .unwrap_or_else(|| initial.clone())
    });
    let outcome = move || {
        let saved = save.value().get().map(|r| r.map(|()| "Saved."));
        let reset_done = reset
            .value()
            .get()
            .map(|r| r.map(|()| "Back to the default."));
        saved.or(reset_done).map(|result| match result {
            Ok(message) => view! { <p class="notice" role="status">{message}</p> }.into_any(),
            Err(error) => view! { <Failure error/> }.into_any(),
        })
    };
    let (kind_for_save, kind_for_reset) = (template.kind.clone(), template.kind.clone());
    let placeholders = template
        .placeholders
        .iter()
        .map(|p| view! { <li><code>{p.clone()}</code></li> })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="template-heading">
            <h2 id="template-heading">{template.title.clone()}</h2>
            <p class="muted">
                {if template.customized { "Your organization's version. " } else { "The built-in version. " }}
                {template.description.clone()}
            </p>
            <p class="small">"Placeholders:"</p>
            <ul class="chips" aria-label="Placeholders">{placeholders}</ul>
            {outcome}
            <ActionForm action=save attr:class="template-form">
                <input type="hidden" name="kind" value=kind_for_save/>
                <label for="t-subject">"Subject"</label>
                <input id="t-subject" type="text" name="subject" required
                    value=template.subject.clone()
                    prop:value=move || subject.get()
                    on:input=move |ev| { subject.set(event_target_value(&ev)); refresh(); }/>
                <label for="t-html">"HTML body"</label>
                <textarea id="t-html" name="html" rows="8"
                    inner_html=crate::pages::textarea_html(&template.html)
                    prop:value=move || html.get()
                    on:input=move |ev| { html.set(event_target_value(&ev)); refresh(); }></textarea>
                <label for="t-text">"Text body"</label>
                <textarea id="t-text" name="text" rows="6"
                    inner_html=crate::pages::textarea_html(&template.text)
                    prop:value=move || text.get()
                    on:input=move |ev| { text.set(event_target_value(&ev)); refresh(); }></textarea>
                <div class="actions"><button type="submit" class="primary">"Save template"</button></div>
            </ActionForm>
            <ActionForm action=reset attr:class="actions">
                <input type="hidden" name="kind" value=kind_for_reset/>
                <button type="submit">"Reset to default"</button>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="preview-heading">
            <h2 id="preview-heading">"Preview"</h2>
            <p class="muted small">"With sample values: jane.doe, impersonated by sam.support."</p>
            <p><strong>"Subject: "</strong>
                <span data-testid="preview-subject">{move || preview.get().subject}</span></p>
            <iframe title="HTML preview" sandbox="" srcdoc=move || preview.get().html class="preview"></iframe>
            <pre class="preview-text" aria-label="Text preview">{move || preview.get().text}</pre>
        </section>
    }
}
