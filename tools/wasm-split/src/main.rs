//! `wasm-split <input.wasm> <output dir> <name>`: splits the wasm that cargo built for the
//! front end at its `#[lazy]` split points. Writes, into the output directory:
//!
//! - `<name>_split.wasm`, the main module, for wasm-bindgen (with `--keep-lld-exports`);
//! - one `.wasm` per chunk, and the loader `__wasm_split.______________________.js`, the
//!   name Leptos' `<HydrationScripts/>` preloads;
//! - `__wasm_split_manifest.json`: which chunks each split point needs, which the server
//!   reads to preload a page's chunks beside the main module.
//!
//! cargo-leptos does the same between cargo and wasm-bindgen; Trunk has no such step, so
//! `scripts/build-wasm` runs this one.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output_dir, name] = args.as_slice() else {
        return Err("usage: wasm-split <input.wasm> <output dir> <name>".into());
    };
    let output_dir = Path::new(output_dir);
    let input_wasm = std::fs::read(input)?;
    let main_out_path = output_dir.join(format!("{name}_split.wasm"));
    // The chunks import the main module's exports through its wasm-bindgen JS module.
    let main_module = format!("./{name}.js");
    let split = wasm_split_cli_support::transform({
        let mut options = wasm_split_cli_support::Options::new(&input_wasm);
        options.output_dir = output_dir;
        options.main_out_path = &main_out_path;
        options.main_module = &main_module;
        options.link_name = "./__wasm_split.______________________.js";
        options
    })
    .map_err(|error| format!("{error:?}"))?;
    std::fs::write(
        output_dir.join("__wasm_split_manifest.json"),
        serde_json::to_string_pretty(&split.prefetch_map)?,
    )?;
    for chunk in &split.split_modules {
        println!("{}", chunk.display());
    }
    Ok(())
}
