//! Expressions: precedence, associativity, postfix forms, calls and lambdas.

use journey_grammar::ast::*;
use journey_grammar::parse_expr;

/// A compact S-expression view of an expression.
fn sx(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Number(v) => format!("{v:?}"),
        ExprKind::Str(parts) => parts
            .iter()
            .map(|p| match p {
                StrPart::Text(t) => format!("{t:?}"),
                StrPart::Interp(e) => format!("${{{}}}", sx(e)),
            })
            .collect::<Vec<_>>()
            .join("~"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Null => "null".into(),
        ExprKind::Duration(ms) => format!("{ms}ms"),
        ExprKind::Date(t) | ExprKind::DateTime(t) | ExprKind::Time(t) => format!("#{t}"),
        ExprKind::List(items) => format!("[{}]", items.iter().map(sx).collect::<Vec<_>>().join(" ")),
        ExprKind::Record(entries) => {
            format!(
                "{{{}}}",
                entries.iter().map(|e| format!("{}:{}", e.key.name, sx(&e.value))).collect::<Vec<_>>().join(" ")
            )
        }
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::Field { base, name } => format!("{}.{}", sx(base), name.name),
        ExprKind::Index { base, index } => format!("{}[{}]", sx(base), sx(index)),
        ExprKind::Call { func, args } => format!(
            "{}({})",
            func.name,
            args.iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{}: {}", n.name, sx(&a.value)),
                    None => sx(&a.value),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ExprKind::Lambda { param, body } => format!("(\\{} {})", param.name, sx(body)),
        ExprKind::Unary { op: UnaryOp::Neg, expr } => format!("(neg {})", sx(expr)),
        ExprKind::Unary { op: UnaryOp::Not, expr } => format!("(not {})", sx(expr)),
        ExprKind::Binary { op, lhs, rhs, .. } => format!("({} {} {})", op.symbol(), sx(lhs), sx(rhs)),
        ExprKind::Range { lo, hi } => format!("(.. {} {})", sx(lo), sx(hi)),
        ExprKind::Is { expr, test } => format!("({test:?} {})", sx(expr)),
        ExprKind::IfThenElse { cond, then, otherwise } => format!("(if {} {} {})", sx(cond), sx(then), sx(otherwise)),
        ExprKind::Error => "ERROR".into(),
    }
}

fn p(src: &str) -> String {
    match parse_expr(src) {
        Ok(e) => sx(&e),
        Err(e) => panic!("{src}: {e:?}"),
    }
}

#[test]
fn precedence_loosest_first() {
    assert_eq!(p("if a then b else c ?? d"), "(if a b (?? c d))");
    assert_eq!(p("a ?? b or c"), "(?? a (or b c))");
    assert_eq!(p("a or b and c"), "(or a (and b c))");
    assert_eq!(p("not a and b"), "(and (not a) b)");
    assert_eq!(p("not 3.15 < 1"), "(not (< 3.15 1))");
    assert_eq!(p("not a == b"), "(not (== a b))");
    assert_eq!(p("a == b + c"), "(== a (+ b c))");
    assert_eq!(p("a < b..c"), "(< a (.. b c))");
    assert_eq!(p("a in 1 + 1..5 * 2"), "(in a (.. (+ 1 1) (* 5 2)))");
    assert_eq!(p("a + b * c - d"), "(- (+ a (* b c)) d)");
    assert_eq!(p("a / b % c"), "(% (/ a b) c)");
    assert_eq!(p("-a * b"), "(* (neg a) b)");
    assert_eq!(p("-a.b[0]"), "(neg a.b[0])");
    assert_eq!(p("- -1"), "(neg (neg 1))");
    assert_eq!(p("(a + b) * c"), "(* (+ a b) c)");
    assert_eq!(p("a ?? b ?? c"), "(?? (?? a b) c)");
}

#[test]
fn comparisons_and_tests() {
    assert_eq!(p("a != b"), "(!= a b)");
    assert_eq!(p("a <= b"), "(<= a b)");
    assert_eq!(p("a >= b"), "(>= a b)");
    assert_eq!(p("a > b"), "(> a b)");
    assert_eq!(p("a not in [1, 2]"), "(not in a [1 2])");
    assert_eq!(p("a + 1 is null"), "(Null (+ a 1))");
    assert_eq!(p("x is not null and y"), "(and (NotNull x) y)");
    assert_eq!(p("not x is null"), "(not (Null x))");
    assert_eq!(p("[\"foo\", null] has null"), "(HasNull [\"foo\" null])");
    assert_eq!(p("x is integer"), "(Integer x)");
    assert_eq!(p("x is decimal or x is numeric"), "(or (Decimal x) (Numeric x))");
    assert_eq!(p("timeOf(now()) in 09:00..18:00"), "(in timeOf(now()) (.. #09:00 #18:00))");
}

#[test]
fn binary_op_spans() {
    let e = parse_expr("a  +  b").unwrap();
    let ExprKind::Binary { op_span, .. } = e.kind else { panic!() };
    assert_eq!((op_span.start, op_span.end), (3, 4));
    let e = parse_expr("a not in b").unwrap();
    let ExprKind::Binary { op_span, .. } = e.kind else { panic!() };
    assert_eq!((op_span.start, op_span.end), (2, 8));
    assert_eq!(e.span, Span::new(0, 10));
}

#[test]
fn if_then_else() {
    assert_eq!(p("if (a or b) then ('x') else ('y')"), "(if (or a b) \"x\" \"y\")");
    assert_eq!(p("if a then 1 else if b then 2 else 3"), "(if a 1 (if b 2 3))");
    assert_eq!(p("1 + if a then 2 else 3 + 4"), "(+ 1 (if a 2 (+ 3 4)))");
}

#[test]
fn postfix_calls_lambdas() {
    assert_eq!(p("identityMap.Email[0].id"), "identityMap.Email[0].id");
    assert_eq!(p("event.`@id`"), "event.@id");
    assert_eq!(p("m[\"k\"].`x-y`"), "m[\"k\"].x-y");
    assert_eq!(p("avg([10,3,8])"), "avg([10 3 8])");
    assert_eq!(p("f()"), "f()");
    assert_eq!(p("f(a, to: b, ,)".replace(", ,", ",").as_str()), "f(a, to: b)");
    assert_eq!(p("filter(items, x -> x.price > 10)"), "filter(items, (\\x (> x.price 10)))");
    assert_eq!(p("all(list: xs, x -> x is not null)"), "all(list: xs, (\\x (NotNull x)))");
    assert_eq!(p("in(3, [1, 3])"), "in(3, [1 3])");
    assert_eq!(p("date(\"2024-02-19T00:00:00.000\")"), "date(\"2024-02-19T00:00:00.000\")");
    assert_eq!(p("split(\"20.45.2.3434\", \"\\\\.\")"), "split(\"20.45.2.3434\", \"\\\\.\")");
    assert_eq!(
        p("{ to: \"a@b.c\", vars: { n: 1 }, \"X-Key\": 'k', `a b`: [] }"),
        "{to:\"a@b.c\" vars:{n:1} X-Key:\"k\" a b:[]}"
    );
    assert_eq!(p("{}"), "{}");
    assert_eq!(p("[]"), "[]");
    assert_eq!(p("[1, 2,]"), "[1 2]");
}

#[test]
fn keywords_are_contextual() {
    assert_eq!(p("x.to.at.body.end.key"), "x.to.at.body.end.key");
    assert_eq!(p("f(to: 1, at: 2, end: 3)"), "f(to: 1, at: 2, end: 3)");
    assert_eq!(p("{ to: 1, body: 2, end: 3, key: 4, if: 5 }"), "{to:1 body:2 end:3 key:4 if:5}");
    assert_eq!(p("end + type"), "(+ end type)");
    assert_eq!(p("event.x ?? profile.y"), "(?? event.x profile.y)");
    assert!(parse_expr("then + 1").is_err());
}

#[test]
fn lambda_only_as_argument() {
    let e = parse_expr("x -> 1").unwrap_err();
    assert!(e.message.contains("lambda"), "{e:?}");
    assert_eq!((e.span.start, e.span.end), (2, 4));
}

#[test]
fn syntax_errors() {
    let e = parse_expr("1 +").unwrap_err();
    assert_eq!(e.message, "expected an expression, found end of file");
    assert_eq!(e.span, Span::new(3, 3));
    let e = parse_expr("f(1").unwrap_err();
    assert_eq!(e.message, "expected `)`, `,` or an operator, found end of file");
    let e = parse_expr("1 2").unwrap_err();
    assert_eq!(e.message, "expected an operator or end of input, found `2`");
    assert_eq!(e.expected, ["an operator", "end of input"]);
    let e = parse_expr("[1, 2").unwrap_err();
    assert_eq!(e.message, "expected `]`, `,` or an operator, found end of file");
}
