//! Scope names, as WSO2 Identity Server spells them.

/// Lets the holder impersonate users through an application (SPEC §1).
pub const USER_IMPERSONATE: &str = "internal_user_impersonate";

/// The management API's own scopes, all held by the built-in Administrator role.
pub const MANAGEMENT: &[&str] = &[
    "internal_user_mgt_list",
    "internal_user_mgt_view",
    "internal_user_mgt_create",
    "internal_user_mgt_update",
    "internal_user_mgt_delete",
    "internal_application_mgt_view",
    "internal_application_mgt_create",
    "internal_application_mgt_update",
    "internal_application_mgt_delete",
    "internal_role_mgt_view",
    "internal_role_mgt_create",
    "internal_role_mgt_update",
    "internal_role_mgt_delete",
    "internal_organization_view",
    "internal_organization_create",
    "internal_organization_update",
    "internal_organization_delete",
    "internal_config_view",
    "internal_config_update",
    "internal_api_resource_view",
    "internal_audit_view",
    "internal_impersonation_session_view",
    "internal_impersonation_session_delete",
    IMPERSONATION_APPROVE,
    "internal_email_template_view",
    "internal_email_template_update",
    WEBHOOK_VIEW,
    WEBHOOK_UPDATE,
    SSF_STREAM_MANAGE,
];

/// Lets the holder read the organization's webhook subscriptions and their delivery logs.
pub const WEBHOOK_VIEW: &str = "internal_webhook_view";
/// Lets the holder create, change, delete webhooks, rotate their secrets, redeliver.
pub const WEBHOOK_UPDATE: &str = "internal_webhook_update";
/// Lets an application's own token (client credentials) manage its Shared Signals stream.
pub const SSF_STREAM_MANAGE: &str = "internal_ssf_stream_manage";

/// Lets the holder decide other administrators' impersonation requests where the
/// organization asks for an administrator's approval.
pub const IMPERSONATION_APPROVE: &str = "internal_impersonation_approve";

/// Lets a token of any application read and change its own user through `/scim2/Me`
/// (WSO2's self-service scope). Any user may be granted it; it is asked for by name.
pub const SELF_SERVICE: &str = "internal_login";

/// Client id of the Console, WSO2's name for it.
pub const CONSOLE_CLIENT_ID: &str = "CONSOLE";
/// Client id of My Account, WSO2's name for it.
pub const MY_ACCOUNT_CLIENT_ID: &str = "MY_ACCOUNT";
/// Name of the built-in role that grants the management API.
pub const ADMINISTRATOR_ROLE: &str = "Administrator";
/// Name of the built-in role that grants impersonation through My Account.
pub const IMPERSONATOR_ROLE: &str = "Impersonator";
