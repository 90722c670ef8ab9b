//! Integration tests: the real server on a free port with a fresh database, over HTTP.

mod applications;
mod authorization;
mod bad_requests;
mod binary;
mod console;
mod current_rights;
mod delegation;
mod events;
mod flood;
mod headers;
mod health;
mod helpers;
mod impersonation;
mod impersonation_approval;
mod impersonation_requirements;
mod impersonation_rules;
mod interop;
mod isolation;
mod lockout;
mod metrics;
mod oauth;
mod operator;
mod scim;
mod sign_in;
mod startup;
mod wso2_script;
