//! The WebAssembly entry point: hydrates the page that the server rendered.

/// Called by the hydration script that the server puts in every page.
///
/// Every page is a lazy route (`app::routes`), so hydration is asynchronous: the page's
/// chunk is fetched first (the server preloads it beside the main module), then the page
/// is hydrated from the server's HTML.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Hydration awaits the chunks on Leptos' executor, which runs on the browser's promises.
    // An error means it is already running, which is as good.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async {
        let body = leptos::prelude::document()
            .body()
            .expect("a page has a body");
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            .forget();
        // Lets the browser tests (and anyone curious) see that the page is interactive.
        let _ = body.set_attribute("data-hydrated", "");
    });
}
