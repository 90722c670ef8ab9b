//! The sign-in page. A plain form that posts to `/login` (handled by the server, which
//! sets the session cookie and redirects), so that it works with JavaScript off.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Where to go after signing in, when the request does not say.
pub const DEFAULT_RETURN_TO: &str = "/console";

/// `GET /login?return_to=…&error=…`
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let return_to = query.with_untracked(|q| {
        q.get("return_to")
            .filter(|path| is_local_path(path))
            .unwrap_or_else(|| DEFAULT_RETURN_TO.to_owned())
    });
    // `busy`: too many sign-ins at once, nothing was checked; anything else: refused.
    let failed = query.with_untracked(|q| {
        q.get("error").map(|error| match error.as_str() {
            "busy" => "Too many people are signing in right now. Try again in a moment.",
            _ => "Invalid username or password.",
        })
    });
    view! {
        <Title text="Sign in"/>
        <main class="centered">
            <form class="card login" method="post" action="/login">
                <h1>"Sign in"</h1>
                <p class="muted">"Identity Server"</p>
                {failed.map(|message| view! {
                    <p class="error" role="alert">{message}</p>
                })}
                <input type="hidden" name="return_to" value=return_to/>
                <label for="username">"Username"</label>
                <input id="username" name="username" type="text" autocomplete="username"
                    required autofocus/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password"
                    autocomplete="current-password" required/>
                <button type="submit" class="primary">"Sign in"</button>
            </form>
        </main>
    }
}

/// Whether `path` is a path on this server (so that a `return_to` can never send the
/// browser to another site): starts with one `/`, not `//` or `/\`.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn only_paths_on_this_server_are_local() {
        assert!(is_local_path("/console"));
        assert!(is_local_path("/oauth2/authorize?client_id=x"));
        assert!(!is_local_path("https://evil.example/"));
        assert!(!is_local_path("//evil.example/"));
        assert!(!is_local_path("/\\evil.example/"));
        assert!(!is_local_path("console"));
        assert!(!is_local_path("/console\r\nSet-Cookie: x"));
    }
}
