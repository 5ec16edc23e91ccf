//! Generated catalogues: the Chinese shop of the seed's examples (美食饮品 →
//! 粮油 → 大米/面/油, 百货日用 …) for tests and the demo, and a large
//! synthetic one for the benchmark. Product names start with the brand.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_domain::ids::ProductId;
use strata_domain::money::{Currency, Money};
use strata_domain::product::{CategoryPath, Product};

/// A level 3 and its brands.
type Level3 = (&'static str, &'static [&'static str]);
/// A level 2 and its level-3 categories.
type Level2 = (&'static str, &'static [Level3]);

/// Level 1 → level 2 → level 3 → brands, and whether the level 1 sells
/// consumables (bought again and again).
const CHINESE_TREE: &[(&str, bool, &[Level2])] = &[
    (
        "美食饮品",
        true,
        &[
            (
                "粮油",
                &[
                    ("大米", &["金龙鱼", "福临门", "五常"]),
                    ("面", &["陈克明", "金沙河"]),
                    ("油", &["鲁花", "金龙鱼", "胡姬花"]),
                ],
            ),
            (
                "饮料",
                &[("茶", &["立顿", "竹叶青"]), ("咖啡", &["雀巢", "三顿半"])],
            ),
            ("零食", &[("坚果", &["三只松鼠", "良品铺子"])]),
        ],
    ),
    (
        "百货日用",
        true,
        &[
            (
                "清洁",
                &[("洗衣液", &["蓝月亮", "立白"]), ("纸巾", &["维达", "清风"])],
            ),
            ("个护", &[("牙膏", &["云南白药", "高露洁"])]),
        ],
    ),
    (
        "家用电器",
        false,
        &[
            (
                "厨房电器",
                &[("电饭煲", &["美的", "苏泊尔"]), ("微波炉", &["格兰仕"])],
            ),
            ("生活电器", &[("电风扇", &["美的", "艾美特"])]),
        ],
    ),
];

/// Variants per brand and level 3: sizes or models.
const VARIANTS: [&str; 2] = ["标准装", "家庭装"];

/// The Chinese catalogue: every level 3 has each of its brands in two
/// variants. SKUs are `CN-<n>`, names `<brand> <level 3><variant>`.
pub fn chinese() -> Vec<Product> {
    let mut products = Vec::new();
    for (l1, consumable, l2s) in CHINESE_TREE {
        for (l2, l3s) in *l2s {
            for (l3, brands) in *l3s {
                for brand in *brands {
                    for variant in VARIANTS {
                        let n = products.len() + 1;
                        products.push(Product {
                            id: sku(&format!("CN-{n:03}")),
                            name: format!("{brand} {l3}{variant}"),
                            category: path(l1, l2, l3),
                            price: Some(Money {
                                minor: 990 + 500 * n as i64,
                                currency: Currency::CNY,
                            }),
                            consumable: *consumable,
                        });
                    }
                }
            }
        }
    }
    products
}

/// A synthetic catalogue of `count` products: 20 level-1 categories of 10
/// level-2 of 10 level-3 each, products spread evenly, ten brands.
pub fn synthetic(count: usize, seed: u64) -> Vec<Product> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|n| {
            let l3 = n % 2_000;
            Product {
                id: sku(&format!("P{n:06}")),
                name: format!("品牌{} 商品{n}", rng.random_range(0..10)),
                category: path(
                    &format!("一级{}", l3 / 100),
                    &format!("二级{}", l3 / 10),
                    &format!("三级{l3}"),
                ),
                price: None,
                consumable: n % 3 == 0,
            }
        })
        .collect()
}

pub fn sku(raw: &str) -> ProductId {
    ProductId::parse("id", raw).unwrap_or_else(|_| unreachable!("generated SKUs are valid"))
}

fn path(l1: &str, l2: &str, l3: &str) -> CategoryPath {
    CategoryPath::parse("category", l1, l2, l3)
        .unwrap_or_else(|_| unreachable!("generated category names are valid"))
}
