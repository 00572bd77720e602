//! Deterministic, seeded sample data: an organisation tree, households with residents, patrol
//! tracks, visit notes and hazard descriptions.
//!
//! The CLI demo, the benchmarks and the tests all use this module, so everything it makes must
//! pass real validation: ID numbers have a real region code, a birth date consistent with the
//! resident's age, a sequence digit whose parity matches the gender and a correct GB 11643 check
//! digit; phones are mainland mobiles; dates are never after `today`; addresses are unique within
//! a grid; close-care (连心户) households always hold a special-group resident.
//!
//! The same seed always gives the same output: only `fastrand::Rng::with_seed` is used, never
//! with `usize` ranges, so 32- and 64-bit targets agree. Names, numbers and places are
//! invented.

pub mod load;

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};

use gridwalk_domain::model::{
    Address, CareTier, Gender, GeoPoint, GridLevel, HouseholdInput, HousingType, OrgUnit, Relation,
    Residency, ResidentInput, SpecialGroup, TrackPoint, VisitMode,
};
use gridwalk_domain::validate::id_check_digit;

/// Code of the sample district (a 6-digit administrative division code).
pub const SAMPLE_DISTRICT_CODE: &str = "640323";
/// Centre of the sample grids (WGS-84).
pub const SAMPLE_CENTRE: GeoPoint = GeoPoint {
    lat: 37.78,
    lng: 107.40,
};
/// Side of a sample grid's square, in metres.
pub const SAMPLE_GRID_SIDE_M: f64 = 400.0;

const DISTRICT_NAME: &str = "示范区";
const STREET_NAMES: [&str; 2] = ["城关街道", "花园街道"];
const COMMUNITY_BASES: [&str; 20] = [
    "幸福", "和平", "团结", "长城", "鼓楼", "永宁", "振兴", "文化", "南关", "北苑", "东升", "西园",
    "新华", "光明", "建设", "友谊", "民主", "胜利", "朝阳", "康乐",
];
const GRIDS_PER_COMMUNITY: usize = 6;
const FALLBACK_COMMUNITY: &str = "幸福社区";

/// Metres per degree of latitude (and of longitude at the equator).
const M_PER_DEG: f64 = 111_320.0;

// ---------------------------------------------------------------------------------------------
// Organisation
// ---------------------------------------------------------------------------------------------

/// A sample organisation tree: one district, its streets, communities and grids, parents before
/// children.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOrg {
    pub units: Vec<OrgUnit>,
}

impl SampleOrg {
    /// The grids, in code order.
    pub fn grids(&self) -> impl Iterator<Item = &OrgUnit> {
        self.units.iter().filter(|u| u.level == GridLevel::Grid)
    }

    /// The worker's own grid (the first one).
    pub fn my_grid(&self) -> Option<&OrgUnit> {
        self.units
            .iter()
            .find(|u| u.level == GridLevel::Grid && u.is_mine)
    }
}

/// A district (`640323`) → 1-2 streets → communities of up to six grids → `grid_count` grids.
///
/// Codes are hierarchical (`640323` / `640323001` / `640323001001` / `640323001001001`); grid
/// names read like `幸福社区第1网格`. Each grid has a GeoJSON Polygon boundary: a 400 m × 400 m
/// square, the squares tiling a block around lat 37.78, lng 107.40 without gaps. Only the first
/// grid is the worker's own (`is_mine`).
pub fn sample_org(grid_count: usize) -> SampleOrg {
    let community_count = grid_count.div_ceil(GRIDS_PER_COMMUNITY);
    let street_count = if community_count >= 2 { 2 } else { 1 };

    let mut units = vec![OrgUnit {
        code: SAMPLE_DISTRICT_CODE.to_string(),
        name: DISTRICT_NAME.to_string(),
        level: GridLevel::District,
        parent_code: None,
        boundary_geojson: None,
        is_mine: false,
    }];

    let street_codes: Vec<String> = (0..street_count)
        .map(|s| format!("{SAMPLE_DISTRICT_CODE}{:03}", s + 1))
        .collect();
    for (s, code) in street_codes.iter().enumerate() {
        units.push(OrgUnit {
            code: code.clone(),
            name: STREET_NAMES[s].to_string(),
            level: GridLevel::Street,
            parent_code: Some(SAMPLE_DISTRICT_CODE.to_string()),
            boundary_geojson: None,
            is_mine: false,
        });
    }

    // The first half of the communities (rounded up) belong to the first street.
    let first_street_communities = community_count.div_ceil(street_count);
    let mut communities: Vec<(String, String)> = Vec::with_capacity(community_count);
    for c in 0..community_count {
        let (street, idx) = if c < first_street_communities {
            (0, c)
        } else {
            (1, c - first_street_communities)
        };
        let code = format!("{}{:03}", street_codes[street], idx + 1);
        let base = COMMUNITY_BASES[c % COMMUNITY_BASES.len()];
        let name = if c < COMMUNITY_BASES.len() {
            format!("{base}社区")
        } else {
            format!("{base}{}社区", c / COMMUNITY_BASES.len() + 1)
        };
        units.push(OrgUnit {
            code: code.clone(),
            name: name.clone(),
            level: GridLevel::Community,
            parent_code: Some(street_codes[street].clone()),
            boundary_geojson: None,
            is_mine: false,
        });
        communities.push((code, name));
    }

    let cols = (grid_count as f64).sqrt().ceil().max(1.0) as usize;
    let rows = grid_count.div_ceil(cols).max(1);
    for g in 0..grid_count {
        let (community_code, community_name) = &communities[g / GRIDS_PER_COMMUNITY];
        let k = g % GRIDS_PER_COMMUNITY + 1;
        let (row, col) = (g / cols, g % cols);
        // South-west corner, in metres east / north of the centre.
        let x0 = (col as f64 - cols as f64 / 2.0) * SAMPLE_GRID_SIDE_M;
        let y0 = (rows as f64 / 2.0 - row as f64 - 1.0) * SAMPLE_GRID_SIDE_M;
        units.push(OrgUnit {
            code: format!("{community_code}{k:03}"),
            name: format!("{community_name}第{k}网格"),
            level: GridLevel::Grid,
            parent_code: Some(community_code.clone()),
            boundary_geojson: Some(square_geojson(x0, y0, SAMPLE_GRID_SIDE_M)),
            is_mine: g == 0,
        });
    }
    SampleOrg { units }
}

/// A GeoJSON Polygon of a square whose south-west corner is `(x0, y0)` metres from the centre.
/// The ring is counter-clockwise and closed, coordinates `[lng, lat]` rounded to 1e-7°.
fn square_geojson(x0: f64, y0: f64, side: f64) -> String {
    let corners = [
        (x0, y0),
        (x0 + side, y0),
        (x0 + side, y0 + side),
        (x0, y0 + side),
        (x0, y0),
    ];
    let ring: Vec<[f64; 2]> = corners
        .iter()
        .map(|&(x, y)| {
            let p = offset(SAMPLE_CENTRE, x, y);
            [round7(p.lng), round7(p.lat)]
        })
        .collect();
    serde_json::json!({ "type": "Polygon", "coordinates": [ring] }).to_string()
}

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// The point `east` / `north` metres from `p` (equirectangular, fine at grid scale).
fn offset(p: GeoPoint, east: f64, north: f64) -> GeoPoint {
    GeoPoint {
        lat: p.lat + north / M_PER_DEG,
        lng: p.lng + east / (M_PER_DEG * p.lat.to_radians().cos()),
    }
}

/// Metres east / north of `origin` to `p`.
fn local_xy(origin: GeoPoint, p: GeoPoint) -> (f64, f64) {
    (
        (p.lng - origin.lng) * M_PER_DEG * origin.lat.to_radians().cos(),
        (p.lat - origin.lat) * M_PER_DEG,
    )
}

/// The outer ring (`[lng, lat]` pairs) of a grid's boundary, when it has a readable one.
fn outer_ring(grid: &OrgUnit) -> Option<Vec<(f64, f64)>> {
    let v: serde_json::Value = serde_json::from_str(grid.boundary_geojson.as_deref()?).ok()?;
    let geometry = if v.get("type")?.as_str()? == "Feature" {
        v.get("geometry")?
    } else {
        &v
    };
    let coords = geometry.get("coordinates")?;
    let ring = match geometry.get("type")?.as_str()? {
        "Polygon" => coords.get(0)?,
        "MultiPolygon" => coords.get(0)?.get(0)?,
        _ => return None,
    };
    let pts: Vec<(f64, f64)> = ring
        .as_array()?
        .iter()
        .filter_map(|c| Some((c.get(0)?.as_f64()?, c.get(1)?.as_f64()?)))
        .collect();
    (pts.len() >= 4).then_some(pts)
}

/// `(min, max)` corners of a grid's boundary; a 400 m square around the sample centre when the
/// grid has no readable boundary.
fn grid_bbox(grid: &OrgUnit) -> (GeoPoint, GeoPoint) {
    if let Some(ring) = outer_ring(grid) {
        let mut min = GeoPoint {
            lat: f64::MAX,
            lng: f64::MAX,
        };
        let mut max = GeoPoint {
            lat: f64::MIN,
            lng: f64::MIN,
        };
        for &(lng, lat) in &ring {
            min.lat = min.lat.min(lat);
            min.lng = min.lng.min(lng);
            max.lat = max.lat.max(lat);
            max.lng = max.lng.max(lng);
        }
        if min.lat < max.lat && min.lng < max.lng {
            return (min, max);
        }
    }
    let h = SAMPLE_GRID_SIDE_M / 2.0;
    (offset(SAMPLE_CENTRE, -h, -h), offset(SAMPLE_CENTRE, h, h))
}

/// Ray casting on a `[lng, lat]` ring.
fn ring_contains(ring: &[(f64, f64)], p: GeoPoint) -> bool {
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[j];
        if (yi > p.lat) != (yj > p.lat) && p.lng < (xj - xi) * (p.lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// The centre of a grid's bounding box (the sample centre when it has no boundary): a handy
/// start for [`sample_track`].
pub fn grid_centre(grid: &OrgUnit) -> GeoPoint {
    let (min, max) = grid_bbox(grid);
    GeoPoint {
        lat: (min.lat + max.lat) / 2.0,
        lng: (min.lng + max.lng) / 2.0,
    }
}

// ---------------------------------------------------------------------------------------------
// Random helpers (fixed-width draws only, so every target gives the same stream)
// ---------------------------------------------------------------------------------------------

fn pick<T: Copy>(rng: &mut fastrand::Rng, items: &[T]) -> T {
    items[rng.u32(0..items.len() as u32) as usize]
}

/// `true` with probability `p`.
fn chance(rng: &mut fastrand::Rng, p: f64) -> bool {
    rng.f64() < p
}

/// Index drawn by integer weights.
fn weighted(rng: &mut fastrand::Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut r = rng.u32(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if r < w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

fn shuffle<T>(rng: &mut fastrand::Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.u32(0..=i as u32) as usize;
        items.swap(i, j);
    }
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u1 = rng.f64().max(1e-12);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// FNV-1a, for stable per-grid choices.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

// ---------------------------------------------------------------------------------------------
// People
// ---------------------------------------------------------------------------------------------

const SURNAMES: [&str; 48] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
];
const MALE_CHARS: [&str; 40] = [
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宁", "浩", "宇", "轩", "博", "文", "俊", "建", "国", "志", "海", "林", "峰", "龙",
    "成", "东", "晨", "阳", "德", "福", "生", "永",
];
const FEMALE_CHARS: [&str; 40] = [
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "英", "玲", "燕", "红", "萍", "婷", "雪",
    "琳", "慧", "晶", "颖", "欣", "怡", "梓", "涵", "雨", "佳", "月", "桂", "兰", "梅", "凤", "琴",
    "洁", "媛", "倩", "诗", "悦", "彤", "蕾", "春",
];

fn given_name(rng: &mut fastrand::Rng, gender: Gender) -> String {
    let chars: &[&str] = match gender {
        Gender::Male => &MALE_CHARS,
        Gender::Female => &FEMALE_CHARS,
    };
    let mut s = pick(rng, chars).to_string();
    if chance(rng, 0.7) {
        s.push_str(pick(rng, chars));
    }
    s
}

fn other_gender(g: Gender) -> Gender {
    match g {
        Gender::Male => Gender::Female,
        Gender::Female => Gender::Male,
    }
}

fn random_gender(rng: &mut fastrand::Rng) -> Gender {
    if rng.bool() {
        Gender::Male
    } else {
        Gender::Female
    }
}

/// Real region codes of the sample district's prefecture (for registered residents).
const LOCAL_REGIONS: [&str; 6] = ["640302", "640303", "640381", "640324", "640104", "640202"];
/// Real region codes across the country (for floating residents).
const FAR_REGIONS: [&str; 20] = [
    "110101", "120103", "130102", "140105", "150102", "210102", "230103", "320106", "330106",
    "340104", "370102", "410105", "420106", "430104", "500103", "510104", "610113", "620102",
    "630102", "622921",
];

/// Makes ID numbers unique within one call; `bucket` (0-9, from the grid code) is the first
/// sequence digit, so two grids' calls rarely collide either.
struct IdMaker {
    seen: HashSet<String>,
    bucket: u32,
}

impl IdMaker {
    fn make(
        &mut self,
        rng: &mut fastrand::Rng,
        region: &str,
        birth: NaiveDate,
        gender: Gender,
    ) -> String {
        let date = birth.format("%Y%m%d").to_string();
        loop {
            // Sequence: bucket digit, one free digit, and a last digit whose parity is the
            // gender (odd male, even female).
            let parity = match gender {
                Gender::Male => 1,
                Gender::Female => 0,
            };
            let last = rng.u32(0..5) * 2 + parity;
            let seq = self.bucket * 100 + rng.u32(0..10) * 10 + last;
            let first17 = format!("{region}{date}{seq:03}");
            let check = id_check_digit(&first17).expect("17 ASCII digits");
            let id = format!("{first17}{check}");
            if self.seen.insert(id.clone()) {
                return id;
            }
            // Only once in a while the bucket's 50 sequences for a date run out: borrow any.
            if rng.u32(0..8) == 0 {
                self.bucket = rng.u32(0..10);
            }
        }
    }
}

const PHONE_PREFIXES: [&str; 28] = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "186", "187",
    "189", "199",
];

fn mobile(rng: &mut fastrand::Rng) -> String {
    let mut s = pick(rng, &PHONE_PREFIXES).to_string();
    for _ in 0..8 {
        s.push(rng.digit(10));
    }
    s
}

/// A birth date giving exactly `age` full years on `today`.
fn birth_for_age(rng: &mut fastrand::Rng, today: NaiveDate, age: u32) -> NaiveDate {
    let anniversary = today
        .checked_sub_months(Months::new(12 * age))
        .unwrap_or(today);
    anniversary - Duration::days(i64::from(rng.u32(0..365)))
}

/// Full years from `birth` to `today`.
fn age_on(birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// One resident as planned before the ID number is made.
struct Person {
    relation: Relation,
    gender: Gender,
    age: u32,
    surname: &'static str,
}

/// The shape of a household.
#[derive(Clone, Copy, PartialEq)]
enum Makeup {
    ElderlyAlone,
    Single,
    Couple,
    ElderlyCouple,
    Family,
    ThreeGenerations,
    LeftBehind,
    Tenants,
    Shopkeeper,
}

fn plan_people(rng: &mut fastrand::Rng, makeup: Makeup) -> Vec<Person> {
    let mut people = Vec::new();
    let head_gender = if chance(rng, 0.65) {
        Gender::Male
    } else {
        random_gender(rng)
    };
    let surname = pick(rng, &SURNAMES);
    let head = |age: u32, gender: Gender| Person {
        relation: Relation::Head,
        gender,
        age,
        surname,
    };
    let spouse = |rng: &mut fastrand::Rng, head_age: u32, head_gender: Gender| Person {
        relation: Relation::Spouse,
        gender: other_gender(head_gender),
        age: (head_age as i32 + rng.i32(-5..=5)).clamp(20, 95) as u32,
        surname: pick(rng, &SURNAMES),
    };
    // Children carry the father's surname.
    let family_surname =
        |rng: &mut fastrand::Rng, head_gender: Gender, spouse_surname: &'static str| {
            if head_gender == Gender::Male || rng.bool() {
                surname
            } else {
                spouse_surname
            }
        };
    match makeup {
        Makeup::ElderlyAlone => {
            // Mostly widows.
            let g = if chance(rng, 0.65) {
                Gender::Female
            } else {
                Gender::Male
            };
            people.push(head(rng.u32(70..=94), g));
        }
        Makeup::Single => people.push(head(rng.u32(20..=66), head_gender)),
        Makeup::Shopkeeper => people.push(head(rng.u32(22..=60), head_gender)),
        Makeup::Couple => {
            let a = rng.u32(23..=58);
            people.push(head(a, head_gender));
            let s = spouse(rng, a, head_gender);
            people.push(s);
        }
        Makeup::ElderlyCouple => {
            let a = rng.u32(60..=88);
            people.push(head(a, Gender::Male));
            let s = spouse(rng, a, Gender::Male);
            people.push(s);
        }
        Makeup::Family | Makeup::ThreeGenerations => {
            let three = makeup == Makeup::ThreeGenerations;
            let a = if three {
                rng.u32(30..=50)
            } else {
                rng.u32(26..=56)
            };
            people.push(head(a, head_gender));
            let s = spouse(rng, a, head_gender);
            let younger = a.min(s.age);
            let child_surname = family_surname(rng, head_gender, s.surname);
            people.push(s);
            let children = if three {
                1 + u32::from(chance(rng, 0.3))
            } else {
                1 + u32::from(chance(rng, 0.45))
            };
            for _ in 0..children {
                // Born when the younger parent was 22-36.
                let gap = rng.u32(22..=36);
                if younger >= gap {
                    people.push(Person {
                        relation: Relation::Child,
                        gender: random_gender(rng),
                        age: younger - gap,
                        surname: child_surname,
                    });
                }
            }
            if three {
                // One parent of the head (a widowed grandparent moved in).
                let g = random_gender(rng);
                people.push(Person {
                    relation: Relation::Parent,
                    gender: g,
                    age: (a + rng.u32(22..=34)).min(95),
                    surname: if g == Gender::Male {
                        surname
                    } else {
                        pick(rng, &SURNAMES)
                    },
                });
            }
        }
        Makeup::LeftBehind => {
            // Grandparents raising a grandchild while the parents work elsewhere.
            let a = rng.u32(56..=72);
            people.push(head(a, Gender::Male));
            if chance(rng, 0.8) {
                let s = spouse(rng, a, Gender::Male);
                people.push(s);
            }
            people.push(Person {
                relation: Relation::Grandchild,
                gender: random_gender(rng),
                age: rng.u32(4..=14),
                surname,
            });
        }
        Makeup::Tenants => {
            // Unrelated young workers in a partitioned flat; the lease holder is the head.
            let n = rng.u32(3..=5);
            for i in 0..n {
                people.push(Person {
                    relation: if i == 0 {
                        Relation::Head
                    } else {
                        Relation::Tenant
                    },
                    gender: random_gender(rng),
                    age: rng.u32(18..=45),
                    surname: pick(rng, &SURNAMES),
                });
            }
        }
    }
    people
}

// ---------------------------------------------------------------------------------------------
// Households
// ---------------------------------------------------------------------------------------------

/// A household as a worker would enter it, with its residents. `ResidentInput.household_id` is
/// empty: the caller fills it once the household is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleHousehold {
    pub household: HouseholdInput,
    pub residents: Vec<ResidentInput>,
}

/// The community named in a grid's name (`幸福社区第1网格` → `幸福社区`), or a fixed one.
fn community_of(grid: &OrgUnit) -> String {
    for marker in ["社区", "村"] {
        if let Some(i) = grid.name.find(marker) {
            return grid.name[..i + marker.len()].to_string();
        }
    }
    FALLBACK_COMMUNITY.to_string()
}

/// One dwelling of a residential building.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    building: u32,
    unit: u32,
    floor: u32,
    room: u32,
}

const SHOPS: [&str; 10] = [
    "便利店",
    "理发店",
    "小吃店",
    "五金店",
    "快递驿站",
    "药店",
    "水果店",
    "麻将馆",
    "电动车维修",
    "牛肉面馆",
];

/// `count` households of `grid`, deterministic in `rng_seed`.
///
/// Addresses are unique (`幸福社区 3栋 2单元 502`; shops at `底商N号`). Housing is about 70%
/// owned, 18% rented, 4% group rental, 5% vacant, 3% business; care tiers about 70/22/8%.
/// Residents (0 for vacant, 0-1 for business, 1-5 otherwise) have unique, valid ID numbers;
/// elderly living alone are 70 or older, alone, and their household is close care; every
/// close-care household holds a special-group resident. Locations lie in the grid's boundary,
/// except about 3% placed just outside it. No date is after `today`.
pub fn sample_households(
    rng_seed: u64,
    grid: &OrgUnit,
    count: usize,
    today: NaiveDate,
) -> Vec<SampleHousehold> {
    let mut rng = fastrand::Rng::with_seed(rng_seed);
    let community = community_of(grid);
    let district = grid
        .code
        .get(..6)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()) && !c.starts_with('0'))
        .unwrap_or(SAMPLE_DISTRICT_CODE)
        .to_string();
    let mut ids = IdMaker {
        seen: HashSet::new(),
        bucket: (fnv1a(&grid.code) % 10) as u32,
    };

    // Housing types first: business premises get their own addresses.
    let types: Vec<HousingType> = (0..count)
        .map(|_| {
            const TYPES: [HousingType; 5] = [
                HousingType::Owned,
                HousingType::Rented,
                HousingType::GroupRental,
                HousingType::Vacant,
                HousingType::Business,
            ];
            TYPES[weighted(&mut rng, &[70, 18, 4, 5, 3])]
        })
        .collect();
    let dwellings = types
        .iter()
        .filter(|t| **t != HousingType::Business)
        .count();
    let shops = count - dwellings;

    // Buildings until there are ~30% more dwellings than households, then a random subset.
    let mut floors_of: Vec<u32> = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    while slots.len() < dwellings + dwellings.div_ceil(3) || floors_of.is_empty() {
        let b = floors_of.len() as u32 + 1;
        let floors = pick(&mut rng, &[6, 6, 7, 11, 18]);
        let units = if floors >= 11 { 3 } else { rng.u32(2..=3) };
        floors_of.push(floors);
        for unit in 1..=units {
            for floor in 1..=floors {
                for room in 1..=2 {
                    slots.push(Slot {
                        building: b,
                        unit,
                        floor,
                        room,
                    });
                }
            }
        }
    }
    shuffle(&mut rng, &mut slots);
    slots.truncate(dwellings);
    slots.sort_unstable();

    // Where each building stands: inside the grid, 15 m from its edges.
    let ring = outer_ring(grid);
    let (min, max) = grid_bbox(grid);
    let (w, h) = local_xy(min, max);
    let margin = 15.0_f64.min(w / 4.0).min(h / 4.0);
    let building_at: Vec<GeoPoint> = (0..floors_of.len())
        .map(|_| {
            for _ in 0..64 {
                let p = offset(
                    min,
                    margin + rng.f64() * (w - 2.0 * margin),
                    margin + rng.f64() * (h - 2.0 * margin),
                );
                if ring.as_ref().is_none_or(|r| ring_contains(r, p)) {
                    return p;
                }
            }
            grid_centre(grid)
        })
        .collect();

    // Shops sit at the foot of random buildings; pair them with their dwellings' order.
    let mut shop_buildings: Vec<u32> = (0..shops)
        .map(|_| rng.u32(1..=floors_of.len() as u32))
        .collect();
    shop_buildings.sort_unstable();

    let mut out = Vec::with_capacity(count);
    let mut slot_iter = slots.into_iter();
    let mut shop_iter = shop_buildings.into_iter().enumerate();
    for housing in types {
        let (address, building) = if housing == HousingType::Business {
            let (n, b) = shop_iter.next().expect("one shop per business household");
            (
                Address {
                    community: community.clone(),
                    building: format!("{b}栋"),
                    unit: None,
                    floor: Some(1),
                    room: Some(format!("底商{}号", n + 1)),
                    text: Some(pick(&mut rng, &SHOPS).to_string()),
                },
                b,
            )
        } else {
            let s = slot_iter.next().expect("one dwelling per household");
            (
                Address {
                    community: community.clone(),
                    building: format!("{}栋", s.building),
                    unit: Some(format!("{}单元", s.unit)),
                    floor: Some(s.floor as i32),
                    room: Some(format!("{}", s.floor * 100 + s.room)),
                    text: None,
                },
                s.building,
            )
        };

        let location = if chance(&mut rng, 0.03) {
            outside_point(&mut rng, min, max)
        } else {
            let base = building_at[building as usize - 1];
            offset(base, normal(&mut rng) * 3.0, normal(&mut rng) * 3.0)
        };

        let mut hh = make_household(
            &mut rng,
            &mut ids,
            &district,
            housing,
            address,
            grid.code.clone(),
            today,
        );
        hh.household.location = Some(GeoPoint {
            lat: round7(location.lat),
            lng: round7(location.lng),
        });
        out.push(hh);
    }
    // Stable address order, as on a census sheet.
    out.sort_by_key(|h| {
        let a = &h.household.address;
        let num = |s: Option<&str>| -> u32 {
            s.unwrap_or("")
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0)
        };
        (
            num(Some(&a.building)),
            num(a.unit.as_deref()),
            a.floor.unwrap_or(0),
            num(a.room.as_deref()),
        )
    });
    out
}

/// A point 10-60 m outside one edge of the box.
fn outside_point(rng: &mut fastrand::Rng, min: GeoPoint, max: GeoPoint) -> GeoPoint {
    let (w, h) = local_xy(min, max);
    let out = 10.0 + rng.f64() * 50.0;
    let along = rng.f64();
    let (x, y) = match rng.u32(0..4) {
        0 => (along * w, -out),
        1 => (along * w, h + out),
        2 => (-out, along * h),
        _ => (w + out, along * h),
    };
    offset(min, x, y)
}

fn make_household(
    rng: &mut fastrand::Rng,
    ids: &mut IdMaker,
    district: &str,
    housing: HousingType,
    address: Address,
    grid_code: String,
    today: NaiveDate,
) -> SampleHousehold {
    let makeup = match housing {
        HousingType::Vacant => None,
        HousingType::Business => chance(rng, 0.6).then_some(Makeup::Shopkeeper),
        HousingType::GroupRental => Some(Makeup::Tenants),
        HousingType::Rented => {
            Some([Makeup::Single, Makeup::Couple, Makeup::Family][weighted(rng, &[25, 25, 50])])
        }
        HousingType::Owned => Some(
            [
                Makeup::ElderlyAlone,
                Makeup::Single,
                Makeup::Couple,
                Makeup::ElderlyCouple,
                Makeup::Family,
                Makeup::ThreeGenerations,
                Makeup::LeftBehind,
            ][weighted(rng, &[60, 50, 110, 150, 420, 200, 15])],
        ),
    };
    let people = makeup.map(|m| plan_people(rng, m)).unwrap_or_default();

    let floating_household = match housing {
        HousingType::Owned => chance(rng, 0.03),
        HousingType::Rented => chance(rng, 0.42),
        HousingType::GroupRental => true,
        HousingType::Business => chance(rng, 0.5),
        HousingType::Vacant => false,
    };
    // When the household moved in.
    let moved_in_days = match housing {
        HousingType::Owned => rng.u32(30..=25 * 365),
        HousingType::Rented => rng.u32(20..=4 * 365),
        HousingType::GroupRental => rng.u32(10..=2 * 365),
        HousingType::Business | HousingType::Vacant => rng.u32(60..=8 * 365),
    };
    let moved_in = today - Duration::days(i64::from(moved_in_days));
    let poor_household = chance(rng, 0.035);
    let home_region = pick(rng, &FAR_REGIONS);

    let mut residents = Vec::with_capacity(people.len());
    for p in &people {
        let birth = birth_for_age(rng, today, p.age);
        let floating = floating_household || (p.relation == Relation::Spouse && chance(rng, 0.02));
        let region = if floating {
            // Families come from one place; tenants from anywhere.
            if p.relation == Relation::Tenant || chance(rng, 0.2) {
                pick(rng, &FAR_REGIONS)
            } else {
                home_region
            }
        } else if chance(rng, 0.75) {
            district
        } else {
            pick(rng, &LOCAL_REGIONS)
        };
        let id_number = ids.make(rng, region, birth, p.gender);
        let phone_rate = match p.age {
            0..=13 => 0.0,
            14..=17 => 0.3,
            18..=74 => 0.88,
            _ => 0.6,
        };
        let phone = chance(rng, phone_rate).then(|| mobile(rng));

        let mut groups = Vec::new();
        if makeup == Some(Makeup::ElderlyAlone) {
            groups.push(SpecialGroup::ElderlyAlone);
        }
        if makeup == Some(Makeup::LeftBehind) && p.relation == Relation::Grandchild {
            groups.push(SpecialGroup::LeftBehindChild);
        }
        if chance(rng, if p.age >= 60 { 0.04 } else { 0.015 }) {
            groups.push(SpecialGroup::Disabled);
        }
        if poor_household && matches!(p.relation, Relation::Head | Relation::Spouse) {
            groups.push(SpecialGroup::Poverty);
        }
        let illness = match p.age {
            0..=39 => 0.005,
            40..=59 => 0.025,
            _ => 0.07,
        };
        if chance(rng, illness) {
            groups.push(SpecialGroup::SeriousIllness);
        }
        if (18..=65).contains(&p.age) {
            if chance(rng, 0.003) {
                groups.push(SpecialGroup::MentalIllness);
            }
            if chance(rng, 0.001) {
                groups.push(SpecialGroup::CommunityCorrection);
            } else if p.gender == Gender::Male && chance(rng, 0.002) {
                groups.push(SpecialGroup::ReleasedPrisoner);
            }
        }
        if p.gender == Gender::Male && p.age >= 25 && chance(rng, 0.025) {
            groups.push(SpecialGroup::Veteran);
        }

        let moved_in_on = moved_in.max(birth);
        residents.push(ResidentInput {
            household_id: String::new(),
            name: format!("{}{}", p.surname, given_name(rng, p.gender)),
            id_number: Some(id_number),
            phone,
            gender: Some(p.gender),
            birth_date: Some(birth),
            relation: p.relation,
            residency: if floating {
                Residency::Floating
            } else {
                Residency::Registered
            },
            special_groups: groups,
            moved_in_on: Some(moved_in_on),
            notes: None,
        });
    }

    // Care tier from who lives here.
    let needy = residents.iter().any(|r| {
        r.special_groups.iter().any(|g| {
            matches!(
                g,
                SpecialGroup::Disabled
                    | SpecialGroup::LeftBehindChild
                    | SpecialGroup::Poverty
                    | SpecialGroup::SeriousIllness
                    | SpecialGroup::MentalIllness
                    | SpecialGroup::CommunityCorrection
                    | SpecialGroup::ReleasedPrisoner
            )
        })
    });
    let old = residents
        .iter()
        .filter_map(|r| r.birth_date)
        .any(|b| age_on(b, today) >= 75);
    let care_tier = if makeup == Some(Makeup::ElderlyAlone) {
        CareTier::Close
    } else if needy {
        if chance(rng, 0.22) {
            CareTier::Close
        } else {
            CareTier::Attention
        }
    } else if residents.is_empty() {
        CareTier::Routine
    } else {
        let p = if old || housing == HousingType::GroupRental {
            0.35
        } else {
            0.13
        };
        if chance(rng, p) {
            CareTier::Attention
        } else {
            CareTier::Routine
        }
    };

    let mut tags = Vec::new();
    match housing {
        HousingType::Rented => tags.push("出租屋".to_string()),
        HousingType::GroupRental => {
            tags.push("群租房".to_string());
            tags.push("消防重点".to_string());
        }
        HousingType::Business => tags.push("沿街商铺".to_string()),
        HousingType::Vacant => tags.push("空置房".to_string()),
        HousingType::Owned => {}
    }
    if residents.iter().any(|r| r.residency == Residency::Floating)
        && housing != HousingType::GroupRental
    {
        tags.push("流动人口".to_string());
    }
    let notes = match housing {
        HousingType::Vacant => Some(
            pick(
                rng,
                &[
                    "业主在外地工作，房屋常年空置",
                    "房屋待售，暂无人居住",
                    "业主随子女外地居住",
                ],
            )
            .to_string(),
        ),
        HousingType::GroupRental => Some("隔断出租，已告知房东整改".to_string()),
        _ if makeup == Some(Makeup::ElderlyAlone) => Some(
            pick(
                rng,
                &[
                    "子女在外地，每周电话联系",
                    "行动不便，需定期上门",
                    "有老年慢性病，需关注用药",
                ],
            )
            .to_string(),
        ),
        _ => None,
    };

    SampleHousehold {
        household: HouseholdInput {
            grid_code,
            address,
            housing_type: housing,
            care_tier,
            tags,
            location: None,
            notes,
        },
        residents,
    }
}

// ---------------------------------------------------------------------------------------------
// Patrol tracks
// ---------------------------------------------------------------------------------------------

/// A walking patrol of `minutes` from `start`: one fix every 10 s (`minutes * 6 + 1` fixes),
/// about 1.2 m/s along a meandering path that keeps within ~250 m of the start, accuracy
/// 5-20 m. About 1% of fixes are bad — accuracy 80 m, or a 300 m jump with a normal-looking
/// accuracy — for a track filter to drop. The first and last fixes are always good.
pub fn sample_track(
    seed: u64,
    start: GeoPoint,
    started_at: DateTime<Utc>,
    minutes: u32,
) -> Vec<TrackPoint> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let n = minutes as usize * 6 + 1;
    let mut out = Vec::with_capacity(n);
    let (mut x, mut y) = (0.0_f64, 0.0_f64);
    let mut heading = rng.f64() * std::f64::consts::TAU;
    for i in 0..n {
        if i > 0 {
            // Meander; turn back towards the start when drifting far.
            heading += normal(&mut rng) * 0.35;
            let dist = (x * x + y * y).sqrt();
            if dist > 250.0 {
                let home = (-y).atan2(-x);
                let mut d = home - heading;
                d = (d + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
                    - std::f64::consts::PI;
                heading += d * 0.3;
            }
            let speed = (1.2 + normal(&mut rng) * 0.12).clamp(0.8, 1.6);
            x += heading.cos() * speed * 10.0;
            y += heading.sin() * speed * 10.0;
        }
        let at = started_at + Duration::seconds(10 * i as i64);
        let bad = i > 0 && i + 1 < n && chance(&mut rng, 0.01);
        let (px, py, accuracy) = if bad {
            if rng.bool() {
                let a = rng.f64() * std::f64::consts::TAU;
                (x + a.cos() * 60.0, y + a.sin() * 60.0, 80.0)
            } else {
                let a = rng.f64() * std::f64::consts::TAU;
                (
                    x + a.cos() * 300.0,
                    y + a.sin() * 300.0,
                    5.0 + rng.f64() * 10.0,
                )
            }
        } else {
            let acc = 5.0 + rng.f64() * 15.0;
            // Error of roughly a third of the reported accuracy per axis.
            (
                x + normal(&mut rng) * acc / 4.0,
                y + normal(&mut rng) * acc / 4.0,
                acc,
            )
        };
        let p = offset(start, px, py);
        out.push(TrackPoint {
            at,
            lat: round7(p.lat),
            lng: round7(p.lng),
            accuracy_m: Some((accuracy * 10.0_f64).round() / 10.0),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Notes and case descriptions
// ---------------------------------------------------------------------------------------------

const NOTES_IN_PERSON: [&str; 10] = [
    "入户走访，家中一切正常。",
    "老人身体状况良好，叮嘱注意防寒保暖。",
    "宣传燃气安全使用知识，检查灶具软管，无老化。",
    "了解家庭近况，无特殊诉求。",
    "提醒电动车不要在楼道停放充电。",
    "协助办理高龄津贴申请，材料已收齐。",
    "检查烟感报警器，工作正常。",
    "住户反映楼上漏水，已联系物业查看。",
    "宣传防范电信诈骗知识，发放宣传册。",
    "核对家庭成员信息，无变化。",
];
const NOTES_PHONE: [&str; 6] = [
    "电话回访，身体状况稳定。",
    "电话询问近况，表示暂无需要帮助的事项。",
    "电话提醒按时服药，下周到社区卫生站复查。",
    "电话告知城乡居民医保缴费时间。",
    "电话联系子女，了解老人近期情况。",
    "电话回访上次反映的问题，已解决，表示满意。",
];
const NOTES_MESSAGING: [&str; 5] = [
    "微信发送防诈骗宣传资料，对方已读。",
    "微信询问近况，回复一切正常。",
    "短信通知社区义诊活动时间。",
    "微信提醒近期降温，注意取暖用火安全。",
    "微信告知医保缴费截止日期，已回复收到。",
];
const NOTES_NOT_AT_HOME: [&str; 5] = [
    "敲门无人应答，计划当天下午再访。",
    "家中无人，已在门上留联系卡。",
    "邻居称住户外出务工，改为电话联系。",
    "无人在家，傍晚下班时间再来。",
    "住户外出就医，约定明天上午再访。",
];

/// A plausible Chinese note for a visit made in `mode`.
pub fn sample_visit_note(rng: &mut fastrand::Rng, mode: VisitMode) -> &'static str {
    let notes: &[&'static str] = match mode {
        VisitMode::InPerson => &NOTES_IN_PERSON,
        VisitMode::Phone => &NOTES_PHONE,
        VisitMode::Messaging => &NOTES_MESSAGING,
        VisitMode::NotAtHome => &NOTES_NOT_AT_HOME,
    };
    pick(rng, notes)
}

const CASE_DESCRIPTIONS: [(&str, &str); 14] = [
    ("0201", "3栋2单元楼道堆放纸箱杂物，堵塞消防通道"),
    ("0203", "5栋一楼住户从窗口拉线给电动车飞线充电"),
    ("0303", "幸福路与长城街交叉口井盖破损，存在安全隐患"),
    ("0302", "小区东门外流动摊贩占道经营，影响行人通行"),
    ("0401", "8栋北侧绿化带垃圾乱堆，长期无人清运"),
    ("0101", "2栋402与502住户因楼上漏水发生邻里纠纷"),
    ("0201", "临街商铺灭火器压力不足且已过期，需更换"),
    ("0202", "6栋1单元302疑似群租房，隔断多间，存在消防隐患"),
    ("0501", "独居老人行动不便，需协调志愿者定期上门帮扶"),
    ("0304", "单元门口和电线杆上违规张贴小广告"),
    ("0201", "底商存在住人、生产、储存“三合一”情况"),
    ("0204", "小区出入口车辆乱停乱放，影响消防车通行"),
    ("0602", "学校门口放学时段有流动摊点，存在食品安全隐患"),
    ("0402", "餐馆油烟直排，居民反映气味大"),
];

/// About a dozen realistic hazard descriptions, each with its case sub-type code (`XXYY`:
/// XX = 01 public order, 02 public safety, 03 city management, 04 environment, 05 livelihood,
/// 06 civility).
pub fn sample_case_descriptions() -> &'static [(&'static str, &'static str)] {
    &CASE_DESCRIPTIONS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 15).unwrap()
    }

    fn my_grid() -> OrgUnit {
        sample_org(1).units.into_iter().last().unwrap()
    }

    fn dist_m(a: GeoPoint, b: GeoPoint) -> f64 {
        let (x, y) = local_xy(a, b);
        (x * x + y * y).sqrt()
    }

    #[test]
    fn org_is_hierarchical_and_tiles_the_ground() {
        let org = sample_org(10);
        let codes: Vec<&str> = org.units.iter().map(|u| u.code.as_str()).collect();
        let unique: HashSet<&str> = codes.iter().copied().collect();
        assert_eq!(unique.len(), codes.len());
        for (i, u) in org.units.iter().enumerate() {
            let expected_len = match u.level {
                GridLevel::District => 6,
                GridLevel::Street => 9,
                GridLevel::Community => 12,
                GridLevel::Grid => 15,
            };
            assert_eq!(u.code.len(), expected_len, "{}", u.code);
            if let Some(parent) = &u.parent_code {
                assert!(u.code.starts_with(parent.as_str()));
                let pos = codes
                    .iter()
                    .position(|c| c == parent)
                    .expect("parent exists");
                assert!(pos < i, "parent listed before child");
            } else {
                assert_eq!(u.level, GridLevel::District);
            }
        }
        let streets = org.units.iter().filter(|u| u.level == GridLevel::Street);
        assert_eq!(streets.count(), 2);
        let grids: Vec<&OrgUnit> = org.grids().collect();
        assert_eq!(grids.len(), 10);
        assert_eq!(grids[0].code, "640323001001001");
        assert_eq!(grids[0].name, "幸福社区第1网格");
        assert!(grids[0].is_mine);
        assert!(org.units.iter().filter(|u| u.is_mine).count() == 1);
        assert_eq!(org.my_grid().unwrap().code, grids[0].code);
        for g in &grids {
            assert_eq!(community_of(g).chars().last(), Some('区'));
            let (min, max) = grid_bbox(g);
            let (w, h) = local_xy(min, max);
            assert!(
                (w - 400.0).abs() < 2.0 && (h - 400.0).abs() < 2.0,
                "{w} x {h}"
            );
            assert!(dist_m(grid_centre(g), SAMPLE_CENTRE) < 1_500.0);
            let v: serde_json::Value =
                serde_json::from_str(g.boundary_geojson.as_ref().unwrap()).unwrap();
            assert_eq!(v["type"], "Polygon");
            let ring = v["coordinates"][0].as_array().unwrap();
            assert_eq!(ring.len(), 5);
            assert_eq!(ring[0], ring[4]);
        }
        // Squares do not overlap: every grid centre lies in its own square only.
        for a in &grids {
            let c = grid_centre(a);
            let holders = grids
                .iter()
                .filter(|b| ring_contains(&outer_ring(b).unwrap(), c))
                .count();
            assert_eq!(holders, 1);
        }
        assert_eq!(sample_org(1).units.len(), 4);
        assert_eq!(sample_org(1).grids().count(), 1);
    }

    #[test]
    fn households_are_deterministic() {
        let grid = my_grid();
        let a = sample_households(7, &grid, 300, today());
        let b = sample_households(7, &grid, 300, today());
        let c = sample_households(8, &grid, 300, today());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 300);
        let t = sample_track(3, SAMPLE_CENTRE, Utc::now(), 20);
        assert_eq!(t, sample_track(3, SAMPLE_CENTRE, t[0].at, 20));
        assert_eq!(sample_org(25), sample_org(25));
    }

    #[test]
    fn id_numbers_are_valid_and_unique_over_10000_households() {
        let grid = my_grid();
        let households = sample_households(42, &grid, 10_000, today());
        let mut seen = HashSet::new();
        let mut total = 0;
        for h in &households {
            for r in &h.residents {
                let id = r
                    .id_number
                    .as_deref()
                    .expect("every sample resident has an ID");
                assert_eq!(id_check_digit(&id[..17]), id.chars().last(), "{id}");
                assert!(seen.insert(id.to_string()), "duplicate {id}");
                // The real validator accepts it, and birth date and gender agree with it.
                let (normalised, info) =
                    gridwalk_domain::validate::id_number("id_number", id, today())
                        .unwrap_or_else(|e| panic!("{id}: {e:?}"));
                assert_eq!(normalised, id);
                assert_eq!(Some(info.birth_date), r.birth_date);
                assert_eq!(Some(info.gender), r.gender);
                assert!(info.birth_date <= today());
                gridwalk_domain::validate::person_name("name", &r.name).unwrap();
                if let Some(p) = &r.phone {
                    assert_eq!(&gridwalk_domain::validate::mobile("phone", p).unwrap(), p);
                }
                total += 1;
            }
        }
        assert!(total > 20_000, "{total} residents");
    }

    #[test]
    fn elderly_alone_households_are_close_care() {
        let grid = my_grid();
        let households = sample_households(11, &grid, 3_000, today());
        let mut alone = 0;
        for h in &households {
            let has_alone = h
                .residents
                .iter()
                .any(|r| r.special_groups.contains(&SpecialGroup::ElderlyAlone));
            if has_alone {
                alone += 1;
                assert_eq!(h.residents.len(), 1);
                assert!(age_on(h.residents[0].birth_date.unwrap(), today()) >= 70);
                assert_eq!(h.household.care_tier, CareTier::Close);
            }
            if h.household.care_tier == CareTier::Close {
                assert!(h.residents.iter().any(|r| !r.special_groups.is_empty()));
            }
        }
        assert!(alone > 50, "{alone}");
    }

    #[test]
    fn locations_are_mostly_inside_the_grid() {
        let org = sample_org(4);
        let grid = org.grids().nth(3).unwrap();
        let ring = outer_ring(grid).unwrap();
        let households = sample_households(5, grid, 2_000, today());
        let inside = households
            .iter()
            .filter(|h| ring_contains(&ring, h.household.location.unwrap()))
            .count();
        let outside = households.len() - inside;
        assert!((20..=120).contains(&outside), "{outside} outside");
        // The outside ones are only slightly outside: within 70 m of the square.
        let (min, max) = grid_bbox(grid);
        let (w, h_) = local_xy(min, max);
        for h in &households {
            let p = h.household.location.unwrap();
            gridwalk_domain::validate::coordinates("location", p).unwrap();
            let (x, y) = local_xy(min, p);
            assert!((-70.0..=w + 70.0).contains(&x) && (-70.0..=h_ + 70.0).contains(&y));
            assert_eq!(h.household.grid_code, grid.code);
            assert_eq!(h.household.address.community, "幸福社区");
        }
    }

    #[test]
    fn households_look_like_a_real_grid() {
        let grid = my_grid();
        let households = sample_households(99, &grid, 5_000, today());
        let n = households.len() as f64;
        let share = |f: &dyn Fn(&SampleHousehold) -> bool| {
            households.iter().filter(|h| f(h)).count() as f64 / n
        };
        let near =
            |v: f64, target: f64, tol: f64| assert!((v - target).abs() <= tol, "{v} vs {target}");
        near(
            share(&|h| h.household.housing_type == HousingType::Owned),
            0.70,
            0.03,
        );
        near(
            share(&|h| h.household.housing_type == HousingType::Rented),
            0.18,
            0.02,
        );
        near(
            share(&|h| h.household.housing_type == HousingType::GroupRental),
            0.04,
            0.01,
        );
        near(
            share(&|h| h.household.housing_type == HousingType::Vacant),
            0.05,
            0.01,
        );
        near(
            share(&|h| h.household.housing_type == HousingType::Business),
            0.03,
            0.01,
        );
        near(
            share(&|h| h.household.care_tier == CareTier::Routine),
            0.70,
            0.04,
        );
        near(
            share(&|h| h.household.care_tier == CareTier::Attention),
            0.22,
            0.04,
        );
        near(
            share(&|h| h.household.care_tier == CareTier::Close),
            0.08,
            0.02,
        );

        let residents: Vec<&ResidentInput> = households.iter().flat_map(|h| &h.residents).collect();
        let r = residents.len() as f64;
        let per_household = r / n;
        assert!((2.3..=3.2).contains(&per_household), "{per_household}");
        let floating = residents
            .iter()
            .filter(|r| r.residency == Residency::Floating)
            .count() as f64;
        near(floating / r, 0.15, 0.04);
        let with_group = |g: SpecialGroup| {
            residents
                .iter()
                .filter(|r| r.special_groups.contains(&g))
                .count() as f64
                / r
        };
        near(with_group(SpecialGroup::Disabled), 0.02, 0.01);
        near(with_group(SpecialGroup::Poverty), 0.03, 0.015);
        near(with_group(SpecialGroup::SeriousIllness), 0.03, 0.015);
        assert!(with_group(SpecialGroup::LeftBehindChild) < 0.01);
        assert!(with_group(SpecialGroup::CommunityCorrection) < 0.003);
        assert!(with_group(SpecialGroup::ReleasedPrisoner) < 0.003);

        let adults: Vec<&&ResidentInput> = residents
            .iter()
            .filter(|r| age_on(r.birth_date.unwrap(), today()) >= 18)
            .collect();
        let phones = adults.iter().filter(|r| r.phone.is_some()).count() as f64;
        near(phones / adults.len() as f64, 0.85, 0.04);
        for r in &residents {
            if let Some(p) = &r.phone {
                assert_eq!(p.len(), 11);
                assert!(p.starts_with('1'));
                assert!((b'3'..=b'9').contains(&p.as_bytes()[1]));
                assert!(p.bytes().all(|b| b.is_ascii_digit()));
            }
            let chars = r.name.chars().count();
            assert!((2..=3).contains(&chars), "{}", r.name);
            assert!(r.household_id.is_empty());
        }
    }

    #[test]
    fn households_are_internally_consistent() {
        let grid = my_grid();
        let households = sample_households(3, &grid, 2_000, today());
        let mut addresses = HashSet::new();
        for h in &households {
            let a = &h.household.address;
            assert!(addresses.insert(a.one_line()), "duplicate {}", a.one_line());
            assert!(!a.community.is_empty() && a.building.ends_with('栋'));
            let floor = a.floor.unwrap();
            assert!((1..=18).contains(&floor));
            if let Some(unit) = &a.unit {
                assert!(["1单元", "2单元", "3单元"].contains(&unit.as_str()));
                let room: i32 = a.room.as_ref().unwrap().parse().unwrap();
                assert_eq!(room / 100, floor);
            }
            let n = h.residents.len();
            match h.household.housing_type {
                HousingType::Vacant => assert_eq!(n, 0),
                HousingType::Business => assert!(n <= 1),
                _ => assert!((1..=5).contains(&n), "{n}"),
            }
            if n == 0 {
                continue;
            }
            let heads: Vec<&ResidentInput> = h
                .residents
                .iter()
                .filter(|r| r.relation == Relation::Head)
                .collect();
            assert_eq!(heads.len(), 1);
            let head_age = age_on(heads[0].birth_date.unwrap(), today());
            assert!(head_age >= 18);
            for r in &h.residents {
                let birth = r.birth_date.unwrap();
                let age = age_on(birth, today());
                let moved = r.moved_in_on.unwrap();
                assert!(birth <= moved && moved <= today());
                match r.relation {
                    Relation::Child => assert!(head_age - age >= 18, "{head_age} {age}"),
                    Relation::Parent => assert!(age - head_age >= 18),
                    Relation::Grandchild => assert!(head_age - age >= 36),
                    Relation::Spouse => assert!(age >= 18 && r.gender != heads[0].gender),
                    _ => {}
                }
                if r.special_groups.contains(&SpecialGroup::LeftBehindChild) {
                    assert!(age < 16);
                }
            }
        }
    }

    #[test]
    fn tracks_look_like_a_walk() {
        let start = SAMPLE_CENTRE;
        let t0 = DateTime::parse_from_rfc3339("2025-03-15T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut bad_total = 0;
        let mut fixes = 0;
        for seed in 0..20 {
            let track = sample_track(seed, start, t0, 30);
            assert_eq!(track.len(), 181);
            assert_eq!(track[0].at, t0);
            for w in track.windows(2) {
                assert_eq!((w[1].at - w[0].at).num_seconds(), 10);
            }
            // A simple filter: drop poor fixes and fixes implying more than 5 m/s.
            let mut kept: Vec<&TrackPoint> = Vec::new();
            for p in &track {
                if p.accuracy_m.unwrap() > 50.0 {
                    continue;
                }
                if let Some(last) = kept.last() {
                    let d = dist_m(
                        GeoPoint {
                            lat: last.lat,
                            lng: last.lng,
                        },
                        GeoPoint {
                            lat: p.lat,
                            lng: p.lng,
                        },
                    );
                    let dt = (p.at - last.at).num_seconds() as f64;
                    if d / dt > 5.0 {
                        continue;
                    }
                }
                kept.push(p);
            }
            bad_total += track.len() - kept.len();
            fixes += track.len();
            let length: f64 = kept
                .windows(2)
                .map(|w| {
                    dist_m(
                        GeoPoint {
                            lat: w[0].lat,
                            lng: w[0].lng,
                        },
                        GeoPoint {
                            lat: w[1].lat,
                            lng: w[1].lng,
                        },
                    )
                })
                .sum();
            assert!((1_500.0..=3_000.0).contains(&length), "{length} m");
            for p in &kept {
                let a = p.accuracy_m.unwrap();
                assert!((5.0..=20.0).contains(&a));
                assert!(
                    dist_m(
                        start,
                        GeoPoint {
                            lat: p.lat,
                            lng: p.lng
                        }
                    ) < 600.0
                );
            }
        }
        let rate = bad_total as f64 / fixes as f64;
        assert!((0.002..=0.03).contains(&rate), "{rate}");
    }

    #[test]
    fn notes_and_case_descriptions() {
        let mut rng = fastrand::Rng::with_seed(1);
        for mode in VisitMode::ALL {
            for _ in 0..20 {
                let note = sample_visit_note(&mut rng, *mode);
                assert!(note.chars().count() >= 6);
            }
        }
        const TYPES: [&str; 21] = [
            "0101", "0102", "0103", "0201", "0202", "0203", "0204", "0205", "0206", "0301", "0302",
            "0303", "0304", "0401", "0402", "0403", "0501", "0502", "0503", "0601", "0602",
        ];
        let cases = sample_case_descriptions();
        assert!(cases.len() >= 10);
        for (code, text) in cases {
            assert!(TYPES.contains(code), "{code}");
            assert!(!text.is_empty());
        }
    }
}
