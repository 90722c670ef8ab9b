//! Integration tests: the real server on a free port with a fresh database, over HTTP.

mod binary;
mod health;
mod helpers;
mod oauth;
mod sign_in;
mod startup;
