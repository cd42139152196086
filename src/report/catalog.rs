//! The rule tables' products as the quality and safety reports see them: for each NDC, the
//! report classes it belongs to (a bit mask), its drug (ingredient set) and whether it is
//! generic.
//!
//! Place in the data flow: built once per report from the compiled [`RuleSet`] and the class
//! names the settings use; the cores look facts up per claim row. Must never change the rule
//! tables or accept a class name they do not define.

use crate::claim::Ndc;
use crate::limits::REPORT_SETTINGS_CLASSES_MAX;
use crate::report::ReportError;
use crate::rules::{IngredientId, Product, RuleSet};
use rustc_hash::FxHashMap;

/// What a report needs to know about one product.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct ProductFacts {
    /// Bit `i` set when some ingredient is in the catalog's class `i`.
    pub classes: u64,
    /// Dense id of the product's ingredient set: the "same drug" of PDC and MTM.
    pub drug: u32,
    pub generic: Option<bool>,
    /// products.csv `package_quantity` (442-E7 units in one package), in millionths.
    pub package_quantity_micro: Option<u64>,
    /// Position in the catalog's product details ([`Catalog::dose_form`],
    /// [`Catalog::ingredients_in`]).
    pub(crate) detail: u32,
}

/// What a few measures need beyond [`ProductFacts`].
struct Detail {
    dose_form: Box<str>,
    /// Each ingredient with the mask of the catalog classes it is in.
    ingredients: Box<[(IngredientId, u64)]>,
}

/// Products by NDC with their report classes.
pub(crate) struct Catalog {
    class_names: Vec<String>,
    products: FxHashMap<u64, ProductFacts>,
    details: Vec<Detail>,
}

impl Catalog {
    /// Resolves every class name against the rule tables (unknown names are refused).
    pub fn new<'a>(
        rules: &RuleSet,
        class_names: impl IntoIterator<Item = &'a String>,
    ) -> Result<Catalog, ReportError> {
        let mut names: Vec<String> = class_names.into_iter().cloned().collect();
        names.sort_unstable();
        names.dedup();
        if names.len() > REPORT_SETTINGS_CLASSES_MAX {
            return Err(ReportError::Settings(format!(
                "more than {REPORT_SETTINGS_CLASSES_MAX} distinct classes named"
            )));
        }
        let ingredient_masks = ingredient_masks(rules, &names)?;
        let mut drugs: FxHashMap<&[IngredientId], u32> = FxHashMap::default();
        let mut products = FxHashMap::default();
        let mut details = Vec::new();
        for product in rules.products() {
            let next_drug = u32::try_from(drugs.len()).unwrap_or(u32::MAX);
            let drug = *drugs.entry(&product.ingredient_set).or_insert(next_drug);
            let ingredients = ingredient_classes(rules, product, &ingredient_masks);
            let facts = ProductFacts {
                classes: ingredients.iter().fold(0, |mask, (_, bits)| mask | bits),
                drug,
                generic: product.generic,
                package_quantity_micro: product.package_quantity_micro,
                detail: u32::try_from(details.len()).unwrap_or(u32::MAX),
            };
            details.push(Detail {
                dose_form: product.dose_form.as_str().into(),
                ingredients,
            });
            products.insert(product.ndc.value(), facts);
        }
        Ok(Catalog {
            class_names: names,
            products,
            details,
        })
    }

    /// The mask of these class names (names the catalog was not built with add nothing).
    pub fn mask(&self, names: &[String]) -> u64 {
        names
            .iter()
            .filter_map(|name| self.class_names.binary_search(name).ok())
            .fold(0, |mask, bit| mask | (1u64 << bit))
    }

    /// Facts of an NDC the rule tables list.
    pub fn facts(&self, ndc: Option<Ndc>) -> Option<ProductFacts> {
        self.products.get(&ndc?.value()).copied()
    }

    /// The product's dose form as products.csv writes it.
    pub fn dose_form(&self, facts: &ProductFacts) -> &str {
        self.details
            .get(facts.detail as usize)
            .map_or("", |detail| &detail.dose_form)
    }

    /// The product's distinct ingredients that are in some class of `mask`.
    pub fn ingredients_in(&self, facts: &ProductFacts, mask: u64) -> Vec<IngredientId> {
        let Some(detail) = self.details.get(facts.detail as usize) else {
            return Vec::new();
        };
        let members = detail
            .ingredients
            .iter()
            .filter(|(_, bits)| bits & mask != 0);
        members.map(|(ingredient, _)| *ingredient).collect()
    }
}

/// Each distinct ingredient of the product with the mask of the classes it belongs to.
fn ingredient_classes(
    rules: &RuleSet,
    product: &Product,
    masks: &FxHashMap<&str, u64>,
) -> Box<[(IngredientId, u64)]> {
    product
        .ingredient_set
        .iter()
        .map(|id| {
            (
                *id,
                masks.get(rules.ingredient_name(*id)).copied().unwrap_or(0),
            )
        })
        .collect()
}

/// For every ingredient of the named classes, the mask of those classes.
fn ingredient_masks<'r>(
    rules: &'r RuleSet,
    names: &[String],
) -> Result<FxHashMap<&'r str, u64>, ReportError> {
    let mut masks: FxHashMap<&str, u64> = FxHashMap::default();
    for (bit, name) in names.iter().enumerate() {
        let members = rules
            .class_members(name)
            .ok_or_else(|| ReportError::UnknownClass(name.clone()))?;
        for ingredient in members {
            *masks.entry(ingredient).or_default() |= 1u64 << bit;
        }
    }
    Ok(masks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::sample_rules;

    fn names(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn products_carry_their_classes_drug_and_generic_flag() {
        let rules = sample_rules();
        let classes = names(&["STATIN", "DIABETES", "BIGUANIDE", "SULFONYLUREA"]);
        let catalog = Catalog::new(rules, &classes).unwrap();
        let facts = |ndc| catalog.facts(Ndc::from_value(ndc)).unwrap();
        let atorvastatin_10 = facts(67_877_051_190);
        let atorvastatin_40 = facts(67_877_051_390);
        assert_eq!(atorvastatin_10.classes, catalog.mask(&names(&["STATIN"])));
        assert_eq!(
            atorvastatin_10.drug, atorvastatin_40.drug,
            "same ingredient set"
        );
        assert_eq!(atorvastatin_10.generic, Some(true));
        let glyburide_metformin = facts(99_999_011_201);
        let diabetes = catalog.mask(&names(&["DIABETES", "BIGUANIDE", "SULFONYLUREA"]));
        assert_eq!(glyburide_metformin.classes, diabetes);
        assert_ne!(glyburide_metformin.drug, facts(65_841_080_901).drug);
        assert_eq!(facts(99_999_015_501).generic, Some(false));
        assert_eq!(catalog.facts(Ndc::from_value(12_345)), None);
    }

    #[test]
    fn unknown_classes_are_refused() {
        let rules = sample_rules();
        let refused = Catalog::new(rules, &names(&["STATIN", "STATINS"])).err();
        assert!(matches!(refused, Some(ReportError::UnknownClass(name)) if name == "STATINS"));
    }
}
