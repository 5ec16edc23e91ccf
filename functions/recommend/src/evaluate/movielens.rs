//! MovieLens-100k (GroupLens, as shipped in the PyPI package `recbole`:
//! `recbole/dataset_example/ml-100k/`, RecBole's tab-separated atomic files)
//! mapped into Strata's records for the offline evaluation. Non-commercial
//! licence: read from the installed package at run time, never committed.
//!
//! - A movie is a `Product` (not consumable: a film seen is never pushed
//!   again). Its name starts with `#<item id>` because the recommender
//!   reads a product's first word as its brand, and films have none: a bad
//!   rating then rules out that film alone.
//! - Its category path: level 1 is the film's most specific genre (the one
//!   fewest films in the catalogue carry: the files list genres
//!   alphabetically, so their order says nothing), level 2 that genre with
//!   the next most specific one (`Animation + Children's`, or
//!   `Drama only`), level 3 the release period in half-decades
//!   (`1995–1999`): genre narrows taste, the period narrows it again.
//! - An order is one user's ratings on one UTC day, placed at the day's
//!   first rating, one line per film; leave-last-order-out holds out the
//!   last day. Each rating is also a review with its stars at its own
//!   instant, so two stars or less dislike the film.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use strata_domain::ids::{CustomerId, OrderId, ProductId, ReviewId};
use strata_domain::money::{Currency, Money};
use strata_domain::order::{Order, OrderLine, OrderStatus};
use strata_domain::product::{CategoryPath, Product};
use strata_domain::recommend::{Catalogue, ModelSettings};
use strata_domain::review::Review;
use strata_store::{CustomerRecords, History};

const ITEMS: &str = "ml-100k.item";
const RATINGS: &str = "ml-100k.inter";

#[derive(Debug, thiserror::Error)]
pub enum MovieLensError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file} line {line}: {message}")]
    Format {
        file: &'static str,
        line: usize,
        message: String,
    },
}

/// The evaluation's settings for films: a film seen is never pushed again
/// (a century of "just bought"); everything else as for a shop.
pub fn settings() -> ModelSettings {
    ModelSettings {
        just_bought_days: 36_525,
        ..ModelSettings::default()
    }
}

/// The catalogue and one record set per user from the directory holding
/// `ml-100k.item` and `ml-100k.inter`.
pub fn load(dir: &Path) -> Result<(Catalogue, Vec<CustomerRecords>), MovieLensError> {
    let movies = read_movies(&read(dir, ITEMS)?)?;
    let ratings = read_ratings(&read(dir, RATINGS)?)?;
    let products = catalogue(&movies);
    let mut by_user: BTreeMap<u32, Vec<Rating>> = BTreeMap::new();
    for rating in ratings {
        by_user.entry(rating.user).or_default().push(rating);
    }
    let customers = by_user
        .into_iter()
        .map(|(user, ratings)| records(user, ratings))
        .collect::<Result<_, _>>()?;
    Ok((Catalogue::new(products), customers))
}

fn read(dir: &Path, file: &str) -> Result<String, MovieLensError> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| MovieLensError::Read { path, source })
}

struct Movie {
    id: String,
    title: String,
    year: Option<i32>,
    genres: Vec<String>,
}

struct Rating {
    user: u32,
    item: String,
    stars: u8,
    at: DateTime<Utc>,
}

/// Data lines (the first names the columns), split on tabs.
fn rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| (n + 1, l.split('\t').collect()))
}

fn read_movies(text: &str) -> Result<Vec<Movie>, MovieLensError> {
    rows(text)
        .map(|(line, fields)| match fields[..] {
            [id, title, year, genres] => Ok(Movie {
                id: id.trim().to_owned(),
                title: title.trim().to_owned(),
                // A few films carry no usable year ("unkonwn", "V").
                year: year.trim().parse().ok(),
                genres: genres.split_whitespace().map(str::to_owned).collect(),
            }),
            _ => Err(MovieLensError::Format {
                file: ITEMS,
                line,
                message: format!("expected 4 tab-separated fields, got {}", fields.len()),
            }),
        })
        .collect()
}

fn read_ratings(text: &str) -> Result<Vec<Rating>, MovieLensError> {
    rows(text)
        .map(|(line, fields)| {
            let bad = |message: &str| MovieLensError::Format {
                file: RATINGS,
                line,
                message: message.to_owned(),
            };
            let [user, item, stars, at] = fields[..] else {
                return Err(bad("expected 4 tab-separated fields"));
            };
            let stars: f64 = stars.trim().parse().map_err(|_| bad("rating"))?;
            let seconds: f64 = at.trim().parse().map_err(|_| bad("timestamp"))?;
            Ok(Rating {
                user: user.trim().parse().map_err(|_| bad("user id"))?,
                item: item.trim().to_owned(),
                stars: (stars.round() as u8).clamp(1, 5),
                at: DateTime::from_timestamp(seconds as i64, 0).ok_or_else(|| bad("timestamp"))?,
            })
        })
        .collect()
}

fn catalogue(movies: &[Movie]) -> Vec<Product> {
    let mut films_per_genre: HashMap<&str, usize> = HashMap::new();
    for genre in movies.iter().flat_map(|m| &m.genres) {
        *films_per_genre.entry(genre).or_default() += 1;
    }
    movies
        .iter()
        .filter_map(|movie| {
            let mut genres: Vec<&str> = movie.genres.iter().map(String::as_str).collect();
            genres.sort_by_key(|g| (films_per_genre[g], *g));
            let l1 = genres.first().copied().unwrap_or("unknown");
            let l2 = match genres.get(1) {
                Some(next) => format!("{l1} + {next}"),
                None => format!("{l1} only"),
            };
            let l3 = match movie.year {
                Some(year) => {
                    let from = year.div_euclid(5) * 5;
                    format!("{from}–{}", from + 4)
                }
                None => "year unknown".to_owned(),
            };
            let year = movie.year.map_or_else(String::new, |y| format!(" ({y})"));
            Some(Product {
                id: ProductId::parse("item_id", &movie.id).ok()?,
                name: format!("#{} {}{year}", movie.id, movie.title),
                category: CategoryPath::parse("genre", l1, &l2, &l3).ok()?,
                price: None,
                consumable: false,
            })
        })
        .collect()
}

/// Deterministic customer ids, one per MovieLens user.
fn customer_id(user: u32) -> Result<CustomerId, MovieLensError> {
    CustomerId::parse("user_id", &format!("00000000-0000-4000-8000-{user:012}")).map_err(|e| {
        MovieLensError::Format {
            file: RATINGS,
            line: 0,
            message: e.message,
        }
    })
}

fn records(user: u32, mut ratings: Vec<Rating>) -> Result<CustomerRecords, MovieLensError> {
    let id = customer_id(user)?;
    ratings.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.item.cmp(&b.item)));
    let zero = Money::zero(Currency::USD);
    let mut days: BTreeMap<i64, Order> = BTreeMap::new();
    let mut reviews = Vec::with_capacity(ratings.len());
    for (n, rating) in ratings.iter().enumerate() {
        let Ok(product_id) = ProductId::parse("item_id", &rating.item) else {
            continue;
        };
        let day = rating.at.timestamp().div_euclid(86_400);
        let order = days.entry(day).or_insert_with(|| Order {
            id: OrderId::parse("order", &format!("ml-{user}-{day}"))
                .unwrap_or_else(|_| OrderId::generate()),
            customer_id: id,
            placed_at: rating.at,
            status: OrderStatus::Paid,
            lines: Vec::new(),
            item_count: 0,
            total: zero,
            coupon: None,
        });
        order.lines.push(OrderLine {
            product_id: product_id.clone(),
            quantity: 1,
            unit_price: zero,
            total: zero,
        });
        order.item_count += 1;
        reviews.push(Review {
            id: ReviewId::parse("review", &format!("ml-{user}-{n}"))
                .unwrap_or_else(|_| ReviewId::generate()),
            customer_id: id,
            product_id,
            rating: rating.stars,
            text: None,
            product_satisfaction: None,
            service_satisfaction: None,
            at: rating.at,
        });
    }
    Ok(CustomerRecords {
        id,
        profile: None,
        history: History {
            orders: days.into_values().collect(),
            interactions: Vec::new(),
            reviews,
        },
        cold_pointers: Vec::new(),
        cold_unread: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEMS_FILE: &str = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n\
        1\tToy Story\t1995\tAnimation Children's Comedy\n\
        2\tGoldenEye\t1995\tAction Adventure Thriller\n\
        3\tFour Rooms\t1995\tThriller\n\
        4\tOdd One\tunkonwn\tComedy\n";

    #[test]
    fn genres_from_most_specific_and_half_decades_make_the_tree() {
        let products = catalogue(&read_movies(ITEMS_FILE).unwrap());
        let path = |id: &str| {
            let p = products.iter().find(|p| p.id.as_str() == id).unwrap();
            (p.category.to_string(), p.name.clone())
        };
        // Animation, Children's and Action appear once, Comedy and Thriller twice.
        assert_eq!(
            path("1"),
            (
                "Animation > Animation + Children's > 1995–1999".into(),
                "#1 Toy Story (1995)".into()
            )
        );
        assert_eq!(path("2").0, "Action > Action + Adventure > 1995–1999");
        assert_eq!(path("3").0, "Thriller > Thriller only > 1995–1999");
        assert_eq!(path("4").0, "Comedy > Comedy only > year unknown");
    }

    #[test]
    fn a_users_ratings_on_one_day_make_one_order() {
        let inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n\
            7\t1\t5\t86400\n7\t2\t2\t90000\n7\t3\t4\t172800\n";
        let records = records(7, read_ratings(inter).unwrap()).unwrap();
        let lines: Vec<usize> = records
            .history
            .orders
            .iter()
            .map(|o| o.lines.len())
            .collect();
        assert_eq!(lines, [2, 1]);
        assert_eq!(records.history.orders[0].placed_at.timestamp(), 86_400);
        assert_eq!(records.history.reviews.len(), 3);
        assert_eq!(records.history.reviews[1].rating, 2);
    }
}
