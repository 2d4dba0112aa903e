//! Prints the type of an XDM class plus field groups: `cargo run -p journey-schema --example dump -- ID [FG...]`.

use journey_schema::{SchemaRegistry, Ty};

fn show(ty: &Ty, indent: usize, out: &mut String) {
    if let Ty::Record(r) = ty.non_null() {
        for (name, f) in &r.fields {
            out.push_str(&format!(
                "{}{name}: {}{}\n",
                "  ".repeat(indent),
                short(&f.ty),
                if f.enum_values.is_some() { " (enum)" } else { "" }
            ));
            let mut inner = f.ty.non_null();
            while let Ty::List(t) | Ty::Map(t) = inner {
                inner = t.non_null();
            }
            show(inner, indent + 1, out);
        }
    }
}

fn short(ty: &Ty) -> String {
    match ty {
        Ty::Record(_) => "{..}".into(),
        Ty::Optional(t) => format!("{}?", short(t)),
        Ty::List(t) => format!("list<{}>", short(t)),
        Ty::Map(t) => format!("map<{}>", short(t)),
        t => t.to_string(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let t0 = std::time::Instant::now();
    let reg = SchemaRegistry::new(&[]).expect("registry");
    let t1 = std::time::Instant::now();
    let with: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let ty = reg.xdm(&args[0], &with).expect("resolve");
    let t2 = std::time::Instant::now();
    let mut out = String::new();
    show(&ty, 0, &mut out);
    print!("{out}");
    eprintln!("registry {:?}, compose {:?}", t1 - t0, t2 - t1);
}
