//! Type relations: joining two types and whether a value fits where a type is expected.

use crate::types::Ty;

/// The type holding values of both, if there is one (`int` and `number` join to `number`,
/// `T` and `null` to `T?`).
pub fn unify(a: &Ty, b: &Ty) -> Option<Ty> {
    use Ty::*;
    Some(match (a, b) {
        (Any, _) | (_, Any) => Any,
        (Null, t) | (t, Null) => t.clone().optional(),
        (Optional(x), y) | (y, Optional(x)) => unify(x, y.non_null())?.optional(),
        (Int, Number) | (Number, Int) => Number,
        (List(x), List(y)) => List(Box::new(unify(x, y)?)),
        (Map(x), Map(y)) => Map(Box::new(unify(x, y)?)),
        (Record(x), Record(y)) if x == y => a.clone(),
        (Record(_), Record(_)) => {
            // Records of different shapes (list items written as literals): keep the wider one
            // when one's fields all fit the other.
            if assignable(a, b) == Assign::Yes {
                b.clone()
            } else if assignable(b, a) == Assign::Yes {
                a.clone()
            } else {
                return None;
            }
        }
        (x, y) if x == y => x.clone(),
        _ => return None,
    })
}

/// Whether a value fits where a type is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assign {
    /// It fits.
    Yes,
    /// It fits unless it is null (a warning where non-null is needed).
    MaybeNull,
    /// It does not fit; the field path where it first fails, if inside a record.
    No(Option<String>),
}

/// Whether a value of type `from` fits where `to` is expected.
pub fn assignable(from: &Ty, to: &Ty) -> Assign {
    use Ty::*;
    match (from, to) {
        (Any, _) | (_, Any) => Assign::Yes,
        (Null, Optional(_)) => Assign::Yes,
        (Null, _) => Assign::MaybeNull,
        (Optional(f), Optional(t)) => match assignable(f, t) {
            Assign::MaybeNull => Assign::Yes,
            other => other,
        },
        (f, Optional(t)) => match assignable(f, t) {
            Assign::MaybeNull => Assign::Yes,
            other => other,
        },
        (Optional(f), t) => match assignable(f, t) {
            Assign::Yes => Assign::MaybeNull,
            other => other,
        },
        (Int, Number) => Assign::Yes,
        (List(f), List(t)) => assignable(f, t),
        (Map(f), Map(t)) => assignable(f, t),
        (Record(r), Map(t)) => {
            let mut worst = Assign::Yes;
            for (name, field) in &r.fields {
                match assignable(&field.ty, t) {
                    Assign::Yes => {}
                    Assign::MaybeNull => worst = Assign::MaybeNull,
                    Assign::No(p) => return Assign::No(Some(join_path(name, p))),
                }
            }
            worst
        }
        (Record(f), Record(t)) => {
            if f == t {
                return Assign::Yes;
            }
            let mut worst = Assign::Yes;
            for (name, field) in &f.fields {
                let Some(target) = t.fields.get(name) else {
                    return Assign::No(Some(name.clone()));
                };
                match assignable(&field.ty, &target.ty) {
                    Assign::Yes => {}
                    Assign::MaybeNull => worst = Assign::MaybeNull,
                    Assign::No(p) => return Assign::No(Some(join_path(name, p))),
                }
            }
            worst
        }
        (f, t) if f == t => Assign::Yes,
        _ => Assign::No(None),
    }
}

fn join_path(name: &str, rest: Option<String>) -> String {
    match rest {
        Some(r) => format!("{name}.{r}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FieldTy;

    #[test]
    fn nulls_and_numbers() {
        assert_eq!(unify(&Ty::Int, &Ty::Number), Some(Ty::Number));
        assert_eq!(unify(&Ty::Null, &Ty::String), Some(Ty::String.optional()));
        assert_eq!(assignable(&Ty::String.optional(), &Ty::String), Assign::MaybeNull);
        assert_eq!(assignable(&Ty::Int, &Ty::Number.optional()), Assign::Yes);
        assert_eq!(assignable(&Ty::String, &Ty::Int), Assign::No(None));
    }

    #[test]
    fn records_fit_maps_and_wider_records() {
        let small = Ty::record([("a".to_string(), FieldTy::plain(Ty::String, true))]);
        let wide = Ty::record([
            ("a".to_string(), FieldTy::plain(Ty::String, false)),
            ("b".to_string(), FieldTy::plain(Ty::Int, false)),
        ]);
        assert_eq!(assignable(&small, &wide), Assign::Yes);
        assert_eq!(assignable(&wide, &small), Assign::No(Some("b".into())));
        assert_eq!(assignable(&small, &Ty::Map(Box::new(Ty::String))), Assign::Yes);
    }
}
