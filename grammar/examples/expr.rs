//! Prints the AST of each argument parsed as an expression (or as a file with `-f`).

fn main() {
    let mut file = false;
    for arg in std::env::args().skip(1) {
        if arg == "-f" {
            file = true;
            continue;
        }
        if file {
            let p = journey_grammar::parse(&arg);
            println!("{:#?}", p.file.items);
            for e in p.errors {
                println!("ERROR {:?} {} {:?}", e.span, e.message, e.expected);
            }
        } else {
            match journey_grammar::parse_expr(&arg) {
                Ok(e) => println!("{e:?}"),
                Err(e) => println!("ERROR {:?} {} {:?}", e.span, e.message, e.expected),
            }
        }
    }
}
