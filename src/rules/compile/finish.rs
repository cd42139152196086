//! Cross-file checks and the final indexes: the references of `ruleset.toml` (rule 4), the
//! opioid rule (rule 10), then `finish`: the per-ingredient indexes, the same-drug-product
//! groups, the product flags and counts, and the `RuleSet` itself.
//!
//! Place in the flow: the last steps of `compile`; `finish` runs only when no step found an
//! error. Must never change what a table said, only index it.

use super::names::is_ingredient_name;
use super::{Builder, PRODUCTS_FILE};
use crate::rules::error::{TableError, TableErrors};
use crate::rules::policy::{self, PolicyDraft};
use crate::rules::ruleset::{
    reference_of_class, reference_of_ingredient, ClassId, IngredientId, Product, RuleSet,
};
use crate::rules::units::{Route, StrengthUnit};
use rustc_hash::{FxHashMap, FxHashSet};

impl Builder {
    pub(super) fn check_benzodiazepine(&mut self, draft: &PolicyDraft, errors: &mut TableErrors) {
        let Some(at) = draft.benzodiazepine_at else {
            return;
        };
        self.check_reference(&draft.policies.params.with_benzodiazepine, at, errors);
    }

    /// Rule 10: with the opioid edit enabled, a schema-2 folder names its opioids, and every
    /// product holding an opioid has an MME factor for that ingredient and the product's route
    /// (fail closed at load, never silently at the counter).
    pub(super) fn check_opioids(&mut self, draft: &PolicyDraft, errors: &mut TableErrors) {
        let params = &draft.policies.params;
        if let (Some(text), Some(at)) = (&params.opioids, draft.opioids_at) {
            self.check_reference(text, at, errors);
        }
        let Some((line, column)) = draft.opioid_enabled_at else {
            return;
        };
        if draft.policies.schema >= 2 && params.opioids.is_none() {
            let message = "a schema-2 folder with the opioid edit enabled must set opioids".into();
            let file = policy::FILE.to_string();
            errors.push(TableError {
                file,
                line,
                column,
                rule: 10,
                message,
            });
        }
        let opioids = self.opioid_ingredients(params.opioids.as_deref());
        for product in &self.products {
            let line = self
                .product_lines
                .get(&product.ndc.value())
                .copied()
                .unwrap_or(1);
            for part in product
                .ingredients
                .iter()
                .filter(|p| opioids.contains(&p.ingredient))
            {
                if !self.mme.contains_key(&(part.ingredient, product.route)) {
                    let name = self
                        .ingredients
                        .get(part.ingredient as usize)
                        .map_or("", |i| &*i.name);
                    let message = format!(
                        "opioid {name} has no mme.csv factor for route {}",
                        product.route.as_str()
                    );
                    let file = PRODUCTS_FILE.to_string();
                    errors.push(TableError {
                        file,
                        line,
                        column: 1,
                        rule: 10,
                        message,
                    });
                }
            }
        }
    }

    /// The opioid ingredients: members of `opioids`, or (schema 1 without it) mme.csv's.
    fn opioid_ingredients(&self, opioids: Option<&str>) -> FxHashSet<IngredientId> {
        match opioids {
            Some(reference) => self.members(reference).into_iter().collect(),
            None => self.mme.keys().map(|(ingredient, _)| *ingredient).collect(),
        }
    }

    /// Checks that `text` is `class:NAME` of an existing class (rule 4) or an ingredient name.
    fn check_reference(&self, text: &str, (line, column): (u32, u32), errors: &mut TableErrors) {
        let problem = match text.strip_prefix("class:") {
            Some(name) if !self.class_ids.contains_key(name) => {
                Some((4, format!("{text} is not in classes.csv")))
            }
            None if !is_ingredient_name(text) => {
                Some((2, format!("{text:?} is not class:NAME or an ingredient")))
            }
            _ => None,
        };
        if let Some((rule, message)) = problem {
            let file = policy::FILE.to_string();
            errors.push(TableError {
                file,
                line,
                column,
                rule,
                message,
            });
        }
    }

    pub(super) fn finish(mut self, draft: PolicyDraft) -> RuleSet {
        self.index_ingredients();
        group_drug_products(&mut self.products);
        let params = &draft.policies.params;
        let benzodiazepines = self.members(&params.with_benzodiazepine);
        let opioids = self.opioid_ingredients(params.opioids.as_deref());
        self.flag_products(&benzodiazepines, &opioids);
        self.counts.products = self.products.len();
        self.counts.classes = self.classes.len();
        self.counts.ddi = self.ddi_rules.len();
        self.counts.duplication = self.duplication.len();
        self.counts.mme = self.mme.len();
        let policies = draft.policies;
        let stamp = format!("{}@{}", policies.id, policies.version).into();
        let product_index = self
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.ndc.value(), i as u32))
            .collect();
        RuleSet {
            stamp,
            acetaminophen: self.ingredient_ids.get("acetaminophen").copied(),
            policies,
            ingredients: self.ingredients,
            ingredient_ids: self.ingredient_ids,
            classes: self.classes,
            class_ids: self.class_ids,
            products: self.products,
            product_index,
            ddi_rules: self.ddi_rules,
            ddi_pairs: self.ddi_pairs,
            duplication: self.duplication,
            dose_bands: self
                .dose_bands
                .into_iter()
                .map(|(key, bands)| (key, bands.into_iter().map(|(b, _)| b).collect()))
                .collect(),
            counts: self.counts,
        }
    }

    /// Per ingredient: the interaction references it carries and its duplication rules.
    fn index_ingredients(&mut self) {
        let mut in_ddi = FxHashSet::default();
        for key in self.ddi_pairs.keys() {
            in_ddi.insert((key >> 32) as u32);
            in_ddi.insert(*key as u32);
        }
        let rules_of_class: FxHashMap<ClassId, u32> = self
            .duplication
            .iter()
            .enumerate()
            .map(|(index, rule)| (rule.class, index as u32))
            .collect();
        for (id, info) in self.ingredients.iter_mut().enumerate() {
            let own = reference_of_ingredient(id as u32);
            let classes = info.classes.iter().map(|class| reference_of_class(*class));
            info.ddi_refs = std::iter::once(own)
                .chain(classes)
                .filter(|r| in_ddi.contains(r))
                .collect();
            info.duplication = info
                .classes
                .iter()
                .filter_map(|class| rules_of_class.get(class).copied())
                .collect();
        }
    }

    /// Ingredients matching a `class:NAME` or ingredient reference of `ruleset.toml`.
    fn members(&self, reference: &str) -> Vec<IngredientId> {
        match reference.strip_prefix("class:") {
            Some(name) => self
                .class_ids
                .get(name)
                .and_then(|id| self.classes.get(*id as usize))
                .map_or_else(Vec::new, |class| class.members.clone()),
            None => self
                .ingredient_ids
                .get(reference)
                .map_or_else(Vec::new, |id| vec![*id]),
        }
    }

    fn flag_products(
        &mut self,
        benzodiazepines: &[IngredientId],
        opioids: &FxHashSet<IngredientId>,
    ) {
        for product in &mut self.products {
            // MME counts the opioid ingredients only: an mme.csv row of an ingredient outside
            // `opioids` adds nothing.
            for part in product.ingredients.iter_mut() {
                part.mme_factor_micro = self
                    .mme
                    .get(&(part.ingredient, product.route))
                    .filter(|_| opioids.contains(&part.ingredient))
                    .map(|(factor, _)| *factor);
            }
            let ids = || product.ingredients.iter().map(|part| part.ingredient);
            product.opioid = ids().any(|id| opioids.contains(&id));
            product.benzodiazepine = ids().any(|id| benzodiazepines.contains(&id));
            product.interacts = ids().any(|id| {
                self.ingredients
                    .get(id as usize)
                    .is_some_and(|info| !info.ddi_refs.is_empty())
            });
        }
    }
}

/// What makes two products the same drug product: (ingredient, strength) pairs sorted,
/// strength unit, route, dose form in lower case.
type DrugProductKey = (Vec<(IngredientId, u64)>, StrengthUnit, Route, String);

/// Numbers the products by *same drug product*: the same ingredients at the same strengths
/// (pairwise), strength unit, route and dose form (ASCII case and surrounding spaces ignored).
/// Another labeler's or package size's NDC of one drug shares the number.
fn group_drug_products(products: &mut [Product]) {
    let mut groups: FxHashMap<DrugProductKey, u32> = FxHashMap::default();
    for product in products.iter_mut() {
        let mut parts: Vec<_> = product
            .ingredients
            .iter()
            .map(|p| (p.ingredient, p.strength))
            .collect();
        parts.sort_unstable();
        let form = product.dose_form.trim().to_ascii_lowercase();
        let next = groups.len() as u32;
        product.drug_product = *groups
            .entry((parts, product.unit, product.route, form))
            .or_insert(next);
    }
}
