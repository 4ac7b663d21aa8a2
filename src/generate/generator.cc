#include "generate/generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/files.h"

namespace recsys {
namespace {

constexpr int64_t kSecondMs = 1000;
constexpr int64_t kMinuteMs = 60 * kSecondMs;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// ---------------------------------------------------------------------------------------------
// Randomness. Everything is drawn from these, never from <random>'s distributions, whose output
// differs between standard libraries.

// The splitmix64 finalizer: a bijection on 64 bits, so Mix64(salt + n) never repeats for
// distinct n. Ids are built from it.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// xoshiro256**, seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& s : s_) {
      x += 0x9E3779B97F4A7C15ULL;
      s = Mix64(x);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // [0, 1)
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // [0, n); REQUIRES: n > 0.
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(((Next() >> 32) * n) >> 32); }
  // [lo, hi); REQUIRES: lo < hi, hi - lo < 2^53.
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Uniform() * static_cast<double>(hi - lo));
  }
  bool Chance(double p) { return Uniform() < p; }
  double Normal() {
    const double u1 = 1.0 - Uniform();
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double LogNormal(double mu, double sigma) { return std::exp(mu + sigma * Normal()); }
  // Marsaglia-Tsang.
  double Gamma(double alpha) {
    if (alpha < 1.0) return Gamma(alpha + 1.0) * std::pow(1.0 - Uniform(), 1.0 / alpha);
    const double d = alpha - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x = Normal();
      double v = 1.0 + c * x;
      if (v <= 0) continue;
      v = v * v * v;
      const double u = 1.0 - Uniform();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
  }
  int64_t Poisson(double lambda) {
    if (lambda <= 0) return 0;
    if (lambda > 40) {
      return std::max<int64_t>(0, std::llround(lambda + std::sqrt(lambda) * Normal()));
    }
    const double limit = std::exp(-lambda);
    int64_t k = 0;
    double p = Uniform();
    while (p > limit) {
      ++k;
      p *= Uniform();
    }
    return k;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Index into a cumulative weight table; REQUIRES: !cdf.empty() and cdf.back() > 0.
int PickCdf(const std::vector<double>& cdf, Rng& rng) {
  const double x = rng.Uniform() * cdf.back();
  auto it = std::upper_bound(cdf.begin(), cdf.end(), x);
  if (it == cdf.end()) --it;
  return static_cast<int>(it - cdf.begin());
}

template <typename T, size_t N>
int PickWeighted(const std::array<T, N>& weights, Rng& rng) {
  double total = 0;
  for (T w : weights) total += w;
  double x = rng.Uniform() * total;
  for (size_t i = 0; i < N; ++i) {
    x -= weights[i];
    if (x < 0) return static_cast<int>(i);
  }
  return static_cast<int>(N - 1);
}

double Round2(double x) { return std::round(x * 100.0) / 100.0; }

// Shop prices: 12.99 rather than 12.87 above ten euros.
double ShopPrice(double x) {
  if (x < 10) return std::max(0.49, Round2(x));
  return std::floor(x) + 0.99;
}

// ---------------------------------------------------------------------------------------------
// Id formatting without temporaries.

void AssignNumberedId(char prefix, int64_t n, std::string* out) {
  char buf[24];
  char digits[20];
  int len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0);
  int pos = 0;
  buf[pos++] = prefix;
  for (int i = len; i < 6; ++i) buf[pos++] = '0';
  while (len > 0) buf[pos++] = digits[--len];
  out->assign(buf, static_cast<size_t>(pos));
}

constexpr char kHexDigits[] = "0123456789abcdef";

void PutHex(uint64_t v, int digits, char* p) {
  for (int i = digits - 1; i >= 0; --i) {
    p[i] = kHexDigits[v & 0xF];
    v >>= 4;
  }
}

// "<prefix><16 hex digits>".
void AssignHexId(const char (&prefix)[3], uint64_t v, std::string* out) {
  char buf[18];
  buf[0] = prefix[0];
  buf[1] = prefix[1];
  PutHex(v, 16, buf + 2);
  out->assign(buf, sizeof(buf));
}

// 8-4-4-4-12 hex digits, UUID-shaped. Unique because hi is.
void AssignUuid(uint64_t hi, uint64_t lo, std::string* out) {
  char buf[36];
  PutHex(hi >> 32, 8, buf);
  buf[8] = '-';
  PutHex(hi >> 16, 4, buf + 9);
  buf[13] = '-';
  PutHex(hi, 4, buf + 14);
  buf[18] = '-';
  PutHex(lo >> 48, 4, buf + 19);
  buf[23] = '-';
  PutHex(lo, 12, buf + 24);
  out->assign(buf, sizeof(buf));
}

// Form encoding for a query string: spaces as '+', anything but [A-Za-z0-9-_.] as %XX.
void AppendUrlEncoded(std::string_view s, std::string* out) {
  for (char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
    if (plain) {
      out->push_back(c);
    } else if (c == ' ') {
      out->push_back('+');
    } else {
      const auto u = static_cast<unsigned char>(c);
      out->push_back('%');
      out->push_back("0123456789ABCDEF"[u >> 4]);
      out->push_back("0123456789ABCDEF"[u & 0xF]);
    }
  }
}

std::vector<std::string> Split(const char* list) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = list; *p; ++p) {
    if (*p == '|') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(*p);
    }
  }
  out.push_back(cur);
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// "Home & Kitchen" -> "home-and-kitchen".
std::string Slug(const std::string& name) {
  std::string out;
  for (char c : Lower(name)) {
    if (c == '&') {
      out += "and";
    } else if (c == ' ' || c == '-') {
      if (!out.empty() && out.back() != '-') out.push_back('-');
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out.push_back(c);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The shop's vocabulary. Words are per department so that TF-IDF finds items of one kind alike.

struct SubSpec {
  const char* name;
  double median_price;  // EUR
  double sigma;         // of log price
  const char* nouns;
};

struct DeptSpec {
  const char* name;
  double catalog_weight;  // relative share of the catalog
  double interest;        // relative prior interest of shoppers
  const char* adjectives;
  const char* materials;
  const char* features;
  const char* brands;
  const char* pitches;
  SubSpec subs[6];
};

constexpr int kDeptCount = 10;

const DeptSpec kDeptSpecs[kDeptCount] = {
    {"Electronics",
     14,
     1.2,
     "Wireless|Compact|Smart|Portable|Ultra-Slim|Pro|Rugged|High-Speed",
     "Aluminium|Carbon Fibre|Matte Black|Glass|Recycled Plastic",
     "noise cancelling|fast charging|Bluetooth 5.3|long battery life|water resistance|4K "
     "resolution|USB-C charging|voice control",
     "Voltra|Nexicon|Aurabeam|Pixelon|Sonique|Kestrel Labs|Quantix|Lumora",
     "Built for work, travel and everything in between.|Pairs instantly with your other "
     "devices.|Backed by a two-year warranty.",
     {{"Phones", 420, 0.55, "Smartphone|Phone|Flip Phone|Camera Phone"},
      {"Laptops", 850, 0.45, "Laptop|Notebook|Ultrabook|Chromebook"},
      {"Audio", 80, 0.8, "Headphones|Earbuds|Speaker|Soundbar|Turntable"},
      {"Cameras", 480, 0.7, "Camera|Action Camera|Lens|Drone"},
      {"Wearables", 170, 0.6, "Smartwatch|Fitness Tracker|Smart Ring"},
      {"Accessories", 24, 0.7, "Charger|Power Bank|Cable|Phone Case|Keyboard|Mouse"}}},
    {"Home & Kitchen",
     14,
     1.1,
     "Modern|Classic|Nordic|Rustic|Elegant|Stackable|Minimalist|Cosy",
     "Stainless Steel|Oak|Ceramic|Cotton|Bamboo|Cast Iron|Linen",
     "dishwasher safe|non-stick coating|easy to clean|space saving design|energy efficient|"
     "handmade finish|oven safe",
     "Casaluna|Hearthwell|Nordhem|Brightnest|Oakhaven|Kitchara|Maison Verre",
     "Made to be used every day for years.|Designed in Copenhagen.|A favourite for first "
     "homes.",
     {{"Cookware", 45, 0.6, "Frying Pan|Saucepan|Dutch Oven|Wok|Knife Set|Cutting Board"},
      {"Furniture", 240, 0.7, "Sofa|Armchair|Coffee Table|Bookshelf|Desk|Dining Chair"},
      {"Bedding", 60, 0.6, "Duvet|Pillow|Bed Sheet Set|Blanket|Mattress Topper"},
      {"Appliances", 110, 0.75, "Coffee Machine|Blender|Toaster|Kettle|Air Fryer|Vacuum Cleaner"},
      {"Decor", 30, 0.7, "Vase|Candle|Wall Art|Mirror|Table Lamp|Rug"}}},
    {"Fashion",
     16,
     1.2,
     "Slim Fit|Oversized|Vintage|Casual|Elegant|Waterproof|Lightweight|Classic",
     "Leather|Denim|Wool|Organic Cotton|Silk|Linen|Suede",
     "breathable fabric|reinforced stitching|adjustable strap|hidden pockets|stretch comfort|"
     "machine washable|recycled materials",
     "Velmora|Urban Thread|Stylo Nord|Marisol|Kinfolk & Co|Atelier Ruse|Denimwerk",
     "Cut for a relaxed, modern fit.|Ethically made in Portugal.|Goes with everything in your "
     "wardrobe.",
     {{"Shoes", 85, 0.55, "Sneakers|Boots|Loafers|Sandals|Running Shoes"},
      {"Jackets", 120, 0.6, "Jacket|Parka|Blazer|Raincoat|Bomber Jacket"},
      {"Dresses", 60, 0.6, "Dress|Maxi Dress|Skirt|Jumpsuit"},
      {"Tops", 30, 0.55, "T-Shirt|Shirt|Sweater|Hoodie|Blouse"},
      {"Bags", 70, 0.8, "Backpack|Tote Bag|Handbag|Wallet|Crossbody Bag"},
      {"Jewelry", 45, 0.9, "Necklace|Ring|Bracelet|Earrings|Watch"}}},
    {"Beauty",
     9,
     0.8,
     "Hydrating|Gentle|Radiant|Nourishing|Long-Lasting|Mattifying|Soothing|Refreshing",
     "Aloe Vera|Shea Butter|Vitamin C|Hyaluronic Acid|Argan Oil|Rose Water",
     "dermatologically tested|vegan formula|fragrance free|cruelty free|for sensitive skin|SPF "
     "30|paraben free",
     "Glowra|Purelle|Velvetine|Dermacore|Solstice Skin|Maison Belle",
     "Visible results in two weeks.|Loved by make-up artists.|Suitable for daily use.",
     {{"Skincare", 25, 0.6, "Face Cream|Serum|Cleanser|Face Mask|Eye Cream"},
      {"Makeup", 18, 0.55, "Lipstick|Mascara|Foundation|Eyeshadow Palette|Concealer"},
      {"Haircare", 14, 0.5, "Shampoo|Conditioner|Hair Oil|Hair Dryer|Styling Gel"},
      {"Fragrance", 55, 0.55, "Eau de Parfum|Eau de Toilette|Body Mist|Perfume Oil"}}},
    {"Sports",
     9,
     0.8,
     "Lightweight|Durable|Ergonomic|Adjustable|Pro|Breathable|Foldable|Heavy-Duty",
     "Neoprene|Carbon|Rubber|Steel|Mesh|Polyester",
     "non-slip grip|quick dry|shock absorbing|reflective details|compact storage|anti-odour "
     "treatment",
     "Stridex|Peakform|Trailblaze|Ironcore|Aerofit|Velocita",
     "Tested by athletes in the Alps.|Ready for your next personal best.|Built to take a "
     "beating.",
     {{"Fitness", 40, 0.8, "Dumbbell Set|Yoga Mat|Kettlebell|Resistance Bands|Exercise Bike"},
      {"Cycling", 110, 1.0, "Bike Helmet|Road Bike|Bike Light|Cycling Gloves|Bike Lock"},
      {"Running", 50, 0.6, "Running Jacket|Running Tights|Hydration Vest|Sports Watch"},
      {"Outdoor", 70, 0.8, "Tent|Sleeping Bag|Hiking Backpack|Trekking Poles|Camping Stove"},
      {"Team Sports", 30, 0.6, "Football|Basketball|Tennis Racket|Shin Guards|Goalkeeper Gloves"}}},
    {"Books",
     10,
     0.8,
     "Bestselling|Illustrated|Award-Winning|Complete|Essential|Pocket|Collector's|Updated",
     "Hardcover|Paperback|Large Print|Special Edition",
     "foreword by the author|full colour illustrations|reading group guide|new translation|"
     "bonus chapter|index and glossary",
     "Quill House|Lantern Press|Northwind Books|Paper Crane|Marrow & Finch|Bluebell Publishing",
     "A book you will not put down.|Now in its fifth printing.|Chosen by independent "
     "booksellers.",
     {{"Fiction", 14, 0.35, "Novel|Thriller|Mystery|Fantasy Saga|Romance Novel|Short Stories"},
      {"Non-Fiction", 20, 0.4, "Biography|History|Memoir|Essay Collection|Science Guide"},
      {"Cooking", 25, 0.4, "Cookbook|Baking Book|Vegan Cookbook|Recipe Collection"},
      {"Children's Books", 10, 0.4, "Picture Book|Bedtime Stories|Activity Book|First Reader"},
      {"Business", 22, 0.35,
       "Business Guide|Leadership Book|Finance Handbook|Marketing Playbook"}}},
    {"Toys",
     8,
     0.6,
     "Colourful|Educational|Interactive|Creative|Classic|Giant|Mini|Magnetic",
     "Wood|Plush|Plastic|Cardboard|Silicone",
     "ages 3 and up|ages 8 and up|batteries included|over 500 pieces|glow in the dark|travel "
     "friendly",
     "Brickland|Tinkertot|Happy Otter|Puzzlewise|Starjump|Wonderbox",
     "Hours of screen-free fun.|Safety tested to EN 71.|A gift they will remember.",
     {{"Building Sets", 45, 0.8, "Building Set|Construction Kit|Marble Run|Brick Set"},
      {"Dolls & Figures", 22, 0.6, "Doll|Action Figure|Dollhouse|Plush Toy"},
      {"Board Games", 28, 0.5, "Board Game|Card Game|Puzzle|Strategy Game"},
      {"Outdoor Play", 40, 0.8, "Scooter|Trampoline|Water Blaster|Kite|Sandbox Set"},
      {"Educational", 30, 0.6, "Science Kit|Coding Robot|Microscope|Globe"}}},
    {"Grocery",
     9,
     0.9,
     "Organic|Premium|Fair Trade|Gluten-Free|Classic|Artisan|Family Size|Low Sugar",
     "Arabica|Dark Chocolate|Almond|Oat|Whole Grain|Sea Salt",
     "no added sugar|sustainably sourced|resealable pack|vegan|high in protein|locally "
     "produced",
     "Golden Harvest|Bean Republic|Nutrimix|Alpenmilch|Saltmarsh|Olive Grove",
     "From family farms we know by name.|Best enjoyed fresh.|A pantry staple.",
     {{"Coffee & Tea", 9, 0.5, "Coffee Beans|Ground Coffee|Green Tea|Tea Selection|Espresso Pods"},
      {"Snacks", 4, 0.5, "Crisps|Granola Bars|Trail Mix|Cookies|Chocolate Bar"},
      {"Pantry", 5, 0.5, "Olive Oil|Pasta|Rice|Honey|Spice Set"},
      {"Beverages", 3, 0.5, "Sparkling Water|Juice|Energy Drink|Kombucha|Oat Drink"}}},
    {"Pet Supplies",
     5,
     0.5,
     "Cosy|Durable|Natural|Interactive|Washable|Grain-Free|Orthopedic",
     "Fleece|Rope|Rubber|Chicken|Salmon|Bamboo",
     "vet approved|chew resistant|machine washable|for all breeds|resealable bag|non-toxic",
     "Pawsome|Whiskerly|Barkley & Co|Aquaverde|Happy Tails",
     "Your pet will thank you.|Developed with veterinarians.|Made for happy, healthy pets.",
     {{"Dog", 25, 0.7, "Dog Bed|Dog Food|Dog Leash|Chew Toy|Dog Harness"},
      {"Cat", 20, 0.7, "Cat Tree|Cat Food|Scratching Post|Litter Box|Cat Toy"},
      {"Aquarium", 35, 0.9, "Aquarium|Fish Food|Water Filter|Aquarium Heater"}}},
    {"Garden & Tools",
     6,
     0.6,
     "Cordless|Heavy-Duty|Compact|Professional|Solar|Foldable|Ergonomic",
     "Steel|Aluminium|Teak|Resin|Brass|Fibreglass",
     "18V battery|weather resistant|tool-free assembly|lifetime warranty|LED indicator|soft "
     "grip handle",
     "Greenthumb|Toolforge|Verdania|Hammerline|Solaris Garden",
     "Trusted by professionals.|Ready for every season.|Makes weekend projects easy.",
     {{"Power Tools", 90, 0.6, "Drill|Circular Saw|Sander|Impact Driver|Jigsaw"},
      {"Hand Tools", 20, 0.6, "Hammer|Screwdriver Set|Wrench Set|Pliers|Tape Measure"},
      {"Garden", 40, 0.9, "Lawn Mower|Hedge Trimmer|Garden Hose|Planter|Garden Bench"},
      {"Lighting", 30, 0.7, "Solar Lights|String Lights|Floodlight|Lantern"}}},
};

const char* const kModelSuffixes[] = {"Pro", "Plus", "Max", "Mini", "Lite", "2",  "3",
                                      "X",   "S",    "500", "2000", "Air",  "One"};

struct CountrySpec {
  const char* name;
  double weight;
  const char* cities;  // most populous first
};

const CountrySpec kCountries[] = {
    {"Germany", 22, "Berlin|Hamburg|Munich|Cologne|Frankfurt|Stuttgart"},
    {"France", 17, "Paris|Lyon|Marseille|Toulouse|Nice|Bordeaux"},
    {"Spain", 13, "Madrid|Barcelona|Valencia|Seville|Bilbao"},
    {"Italy", 13, "Rome|Milan|Naples|Turin|Bologna"},
    {"Netherlands", 8, "Amsterdam|Rotterdam|Utrecht|The Hague|Eindhoven"},
    {"Poland", 7, "Warsaw|Krakow|Wroclaw|Gdansk|Poznan"},
    {"Belgium", 4, "Brussels|Antwerp|Ghent|Liege"},
    {"Austria", 4, "Vienna|Graz|Linz|Salzburg"},
    {"Sweden", 4, "Stockholm|Gothenburg|Malmo|Uppsala"},
    {"Portugal", 3, "Lisbon|Porto|Braga"},
    {"Ireland", 2, "Dublin|Cork|Galway"},
};
constexpr int kCountryCount = sizeof(kCountries) / sizeof(kCountries[0]);

const char* const kFirstNames[] = {
    "anna",  "lukas", "marie",  "jonas", "sophie", "leon",  "emma",  "paul",  "julia",  "felix",
    "laura", "max",   "clara",  "noah",  "lea",    "elias", "sara",  "mateo", "lucia",  "hugo",
    "chloe", "louis", "giulia", "marco", "eva",    "jan",   "zofia", "piotr", "ines",   "tiago",
    "freya", "oskar", "aoife",  "liam",  "nina",   "david", "elena", "pablo", "amelie", "theo",
};
const char* const kLastNames[] = {
    "muller",    "schmidt",   "schneider", "fischer",  "weber",   "martin",    "bernard", "dubois",
    "garcia",    "lopez",     "martinez",  "rossi",    "russo",   "ferrari",   "bianchi", "devries",
    "jansen",    "bakker",    "nowak",     "kowalski", "peeters", "janssens",  "gruber",  "huber",
    "andersson", "johansson", "silva",     "santos",   "murphy",  "kelly",     "wagner",  "becker",
    "moreau",    "laurent",   "romano",    "visser",   "wojcik",  "lindqvist", "costa",   "byrne",
};
const char* const kEmailDomains[] = {"example.com", "example.org", "example.net"};

const char* const kAgeBands[] = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"};
constexpr std::array<double, 6> kAgeBandWeights = {14, 27, 23, 17, 11, 8};
const char* const kGenders[] = {"female", "male", "diverse"};
constexpr std::array<double, 3> kGenderWeights = {50, 47, 3};
const char* const kChannels[] = {"web", "ios", "android", "referral", "social"};
constexpr std::array<double, 5> kChannelWeights = {42, 20, 24, 7, 7};
const char* const kDevices[] = {"mobile", "desktop", "tablet"};
constexpr std::array<double, 3> kDeviceWeights = {58, 35, 7};
enum Referrer : uint8_t { kDirect, kSearchEngine, kSocial, kEmail, kAds };
const char* const kReferrers[] = {"direct", "search", "social", "email", "ads"};
constexpr std::array<double, 5> kReferrerWeights = {34, 30, 12, 9, 15};

// Sessions starting in each UTC hour: quiet nights, a lunch bump, an evening peak.
constexpr std::array<double, 24> kHourWeights = {2.0, 1.2, 0.8, 0.6, 0.6, 0.9, 1.8, 3.0,
                                                 3.8, 4.2, 4.5, 4.8, 5.2, 5.0, 4.8, 4.8,
                                                 5.0, 5.6, 6.5, 7.6, 8.2, 7.4, 5.2, 3.4};
// Activity by weekday, Sunday first.
constexpr double kWeekdayFactor[7] = {1.25, 0.95, 0.95, 0.97, 1.0, 1.0, 1.2};

// ---------------------------------------------------------------------------------------------
// Behaviour knobs. Tuned so that about 3% of sessions convert and the tastes show clearly.

constexpr double kSessionsPerUserDay = 0.35;  // mean over registered users, before weekday
constexpr double kActivitySigma = 1.1;        // log-normal spread of per-user activity
constexpr double kGuestShare = 0.25;          // of all sessions
constexpr double kExistingUserShare = 0.6;    // registered before the period starts
constexpr double kContinueProb = 0.86;        // per step: the visitor goes on browsing
constexpr int kMaxSteps = 60;
constexpr double kAddToCartBase = 0.026;
constexpr double kCheckoutProb = 0.42;
constexpr double kNonFavouriteBrandAccept = 0.55;
constexpr double kZipfExponent = 1.05;
constexpr double kPriceChangePerDay = 0.03;
constexpr double kUpdatePerDay = 0.008;
constexpr double kDiscontinuedOverPeriod = 0.02;
constexpr double kNewProductsPerDay = 0.002;  // share of the initial catalog
constexpr double kProfileUpdatePerDay = 0.002;
constexpr int64_t kReorderLevel = 8;

// ---------------------------------------------------------------------------------------------
// The world.

struct Department {
  std::string name;
  double catalog_weight = 0, interest = 0;
  std::vector<std::string> adjectives, materials, features, pitches;
  std::vector<uint16_t> adjective_words, material_words;  // query word ids
  std::vector<int> brands;
  std::vector<double> brand_cdf;
  std::vector<int> subs;
  std::vector<double> sub_cdf;  // by number of products, rebuilt when products are added
};

struct SubCategory {
  int dept = 0;
  std::string name, path, page;
  double median_price = 0, sigma = 0;
  std::vector<std::string> nouns;
  std::vector<uint16_t> noun_words;
  std::vector<int32_t> products;
  std::vector<double> cdf;  // over products: popularity x (0.3 + quality)
};

struct Brand {
  std::string name;
  int dept = 0;
  uint16_t word = 0;
  double premium = 1, quality_shift = 0;
};

struct Product {
  std::string id, title, description;
  std::vector<std::string> tags;
  int32_t sub = 0, brand = 0;
  uint8_t noun = 0, adjective = 0, material = 0;
  double initial_price = 0;
  double quality = 0, popularity = 0;
  int64_t created_ms = 0;
  int64_t discontinued_ms = kNever;
  // Generation side: what shoppers see when choosing (a day's decisions are made ahead).
  double list_price = 0;
  double discount_price = 0;
  int64_t discount_from_ms = kNever, discount_until_ms = kNever;
  int64_t price_busy_until_ms = 0;
  // Emission side: the state the emitted events carry.
  double price = 0;
  int64_t stock = 0;
  bool restock_pending = false;
  int updates = 0;

  double PriceAt(int64_t t) const {
    return t >= discount_from_ms && t < discount_until_ms ? discount_price : list_price;
  }
  bool AvailableAt(int64_t t) const { return t >= created_ms && t < discontinued_ms; }
};

constexpr int kMaxFavouriteBrands = 3;

struct User {
  int64_t signup_ms = 0;
  float rate = 0;  // sessions per day before the weekday factor
  float price_sensitivity = 0;
  std::array<float, kDeptCount> taste{};
  std::array<int16_t, kMaxFavouriteBrands> brands{};
  std::array<float, kMaxFavouriteBrands> brand_weights{};
  uint8_t brand_count = 0;
  uint8_t country = 0, city = 0, age_band = 0, gender = 0, channel = 0, first = 0, last = 0;
  uint8_t device = 0, email_domain = 0;
};

// Whoever is browsing: a registered user or a guest.
struct Actor {
  int32_t user = -1;  // -1: guest
  const float* taste = nullptr;
  const int16_t* brands = nullptr;
  int brand_count = 0;
  double price_sensitivity = 0;
  uint8_t device = 0;
};

enum Flag : uint8_t { kFlagSessionStart = 1, kFlagFirstPurchase = 2, kFlagGuest = 4 };
enum Page : uint8_t { kPageNone, kPageHome, kPageCategory, kPageSearch, kPageCart, kPageCheckout };
enum ProfileChange : uint8_t { kChangeCity, kChangeAgeBand, kChangeEmail };

// One simulated event awaiting its turn in time order: small and without heap memory so a
// day's worth is cheap to hold and sort. The Event and its JSON are built at emission.
struct Pending {
  int64_t time_ms = 0;
  int64_t session = -1;  // session number; the guest id derives from it too
  int64_t ref = -1;      // order number, recommendation list number, or a profile change
  double price = 0;      // price_changed: the new price
  int32_t actor = -1;    // user index
  int32_t product = -1;
  int16_t sub = -1;  // category page
  int16_t quantity = 0;
  uint16_t words[3] = {0, 0, 0};
  uint8_t word_count = 0;
  uint8_t type = 0;
  uint8_t device = 0, referrer = 0, page = kPageNone, flags = 0;
  int8_t position = 0;
};

enum class BadKind {
  kTruncated,
  kNotJson,
  kMissingField,
  kWrongType,
  kUnknownType,
  kFutureTime,
  kBadTime,
  kNegative,
  kDuplicate,
  kOversized,
  kUnsupportedSchema,
};
constexpr int kBadKindCount = 11;
// Oversized records are rare so that a bad-heavy run does not spend its bytes on them.
constexpr std::array<double, kBadKindCount> kBadKindWeights = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0.05, 1};

const char* const kNotJsonTexts[] = {
    "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    "PING",
    "event_type=page_view&user_id=",
    "undefined",
    "Internal Server Error",
};
const char* const kBadTimes[] = {
    "2024-13-45T25:61:00.000Z", "31/01/2024 10:15:00", "yesterday",
    "2024-02-30T12:00:00.000Z", "1704067200",          "2024-06-01 12:00",
};
const char* const kUnknownTypes[3][4] = {
    {"wishlist_add", "checkout_started", "page_vew", "scroll"},
    {"logout", "password_reset", "account_deleted", "signup_v2"},
    {"product_archived", "review_added", "price_change", "inventory_sync"},
};

// Where the string value of "field" starts and ends in an encoded event (first occurrence).
bool FindStringValue(const std::string& json, std::string_view field, size_t* begin, size_t* end) {
  std::string needle = "\"";
  needle.append(field).append("\":\"");
  size_t pos = json.find(needle);
  if (pos == std::string::npos) return false;
  *begin = pos + needle.size();
  *end = json.find('"', *begin);
  return *end != std::string::npos;
}

// Puts quotes around the number value of "field" in an encoded event; false if there is none.
bool QuoteNumber(std::string* json, std::string_view field) {
  std::string needle = "\"";
  needle.append(field).append("\":");
  size_t pos = json->find(needle);
  if (pos == std::string::npos) return false;
  size_t begin = pos + needle.size();
  size_t end = begin;
  while (end < json->size() && (*json)[end] != ',' && (*json)[end] != '}') ++end;
  json->insert(end, 1, '"');
  json->insert(begin, 1, '"');
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct Generator::Impl {
  Impl(const GeneratorOptions& o, GeneratorStats* s)
      : options(o),
        stats(s),
        gen(Mix64(o.seed ^ 0x67656e6572617465ULL)),
        world(Mix64(o.seed ^ 0x776f726c64000000ULL)),
        bad(Mix64(o.seed ^ 0x6261640000000000ULL)),
        event_salt(Mix64(o.seed ^ 0x6576656e74000000ULL)),
        id_salt(Mix64(o.seed ^ 0x6964730000000000ULL)) {}

  const GeneratorOptions options;
  GeneratorStats* stats;
  Rng gen;    // the simulation, a day ahead of emission
  Rng world;  // state changes decided at emission (stock, edits)
  Rng bad;    // bad records, so that bad_rate leaves the good records as they are
  const uint64_t event_salt, id_salt;
  bool built = false;

  std::vector<Department> depts;
  std::vector<SubCategory> subs;
  std::vector<Brand> brands;
  std::vector<std::string> words;  // lowercase query words and phrases
  std::vector<Product> products;
  std::vector<double> global_cdf;
  std::vector<User> users;
  std::vector<std::vector<std::string>> cities;
  std::vector<double> country_cdf;
  std::vector<double> hour_cdf;
  int64_t initial_products = 0;
  int64_t existing_users = 0;

  int64_t next_session = 0, next_order = 0, next_rec = 0;
  uint64_t good_ids = 0, bad_ids = 0;

  std::vector<Pending> buffer, scheduled, carry;
  std::vector<std::pair<int64_t, uint32_t>> order;

  // Reused for every emitted record: one Event per topic, so each keeps its string capacity.
  Event click, user_event, product_event, bad_event;
  Event click_template, product_template;  // the latest good events with a price
  bool has_click_template = false, has_product_template = false;
  std::string json, previous_json, bad_json, bad_key, huge_text;
  double current_product_price = -1;  // of the clickstream event being emitted, if it has one
  Topic previous_topic = Topic::kClickstream;
  std::string previous_key;
  bool has_previous = false;
  std::vector<double> cart_scratch;
  std::array<float, kDeptCount> guest_taste{};

  std::function<Status(const GeneratedRecord&)> const* emit = nullptr;

  // ---- building the world

  uint16_t Word(const std::string& w, std::map<std::string, uint16_t>* index) {
    auto [it, inserted] = index->emplace(w, static_cast<uint16_t>(words.size()));
    if (inserted) words.push_back(w);
    return it->second;
  }

  void BuildCatalogSkeleton() {
    std::map<std::string, uint16_t> word_index;
    for (int d = 0; d < kDeptCount; ++d) {
      const DeptSpec& spec = kDeptSpecs[d];
      Department dept;
      dept.name = spec.name;
      dept.catalog_weight = spec.catalog_weight;
      dept.interest = spec.interest;
      dept.adjectives = Split(spec.adjectives);
      dept.materials = Split(spec.materials);
      dept.features = Split(spec.features);
      dept.pitches = Split(spec.pitches);
      for (const std::string& a : dept.adjectives) {
        dept.adjective_words.push_back(Word(Lower(a), &word_index));
      }
      for (const std::string& m : dept.materials) {
        dept.material_words.push_back(Word(Lower(m), &word_index));
      }
      std::vector<std::string> brand_names = Split(spec.brands);
      double cum = 0;
      for (size_t i = 0; i < brand_names.size(); ++i) {
        Brand b;
        b.name = brand_names[i];
        b.dept = d;
        b.word = Word(Lower(b.name), &word_index);
        b.premium = std::exp(0.25 * gen.Normal());
        b.quality_shift = 0.12 * gen.Normal();
        dept.brands.push_back(static_cast<int>(brands.size()));
        brands.push_back(std::move(b));
        cum += 1.0 / std::pow(static_cast<double>(i + 1), 0.8);
        dept.brand_cdf.push_back(cum);
      }
      for (const SubSpec& s : spec.subs) {
        if (s.name == nullptr) break;
        SubCategory sub;
        sub.dept = d;
        sub.name = s.name;
        sub.path = dept.name + " > " + sub.name;
        sub.page = "/c/" + Slug(dept.name) + "/" + Slug(sub.name);
        sub.median_price = s.median_price;
        sub.sigma = s.sigma;
        sub.nouns = Split(s.nouns);
        for (const std::string& n : sub.nouns)
          sub.noun_words.push_back(Word(Lower(n), &word_index));
        dept.subs.push_back(static_cast<int>(subs.size()));
        subs.push_back(std::move(sub));
      }
      depts.push_back(std::move(dept));
    }
    double cum = 0;
    for (const CountrySpec& c : kCountries) {
      cum += c.weight;
      country_cdf.push_back(cum);
      cities.push_back(Split(c.cities));
    }
    cum = 0;
    for (double w : kHourWeights) {
      cum += w;
      hour_cdf.push_back(cum);
    }
  }

  std::string Description(const Product& p, const uint8_t (&features)[3], int pitch) const {
    const SubCategory& sub = subs[p.sub];
    const Department& dept = depts[sub.dept];
    std::string noun = Lower(sub.nouns[p.noun]);
    std::string d = dept.adjectives[p.adjective];
    d += ' ';
    d += noun;
    d += " by ";
    d += brands[p.brand].name;
    d += ", made of ";
    d += Lower(dept.materials[p.material]);
    d += " with ";
    d += dept.features[features[0]];
    d += ", ";
    d += dept.features[features[1]];
    d += " and ";
    d += dept.features[features[2]];
    d += ". ";
    d += dept.pitches[pitch % dept.pitches.size()];
    return d;
  }

  void PickFeatures(const Department& dept, Rng& rng, uint8_t (&features)[3]) {
    const uint32_t n = static_cast<uint32_t>(dept.features.size());
    features[0] = static_cast<uint8_t>(rng.Below(n));
    features[1] = static_cast<uint8_t>((features[0] + 1 + rng.Below(n - 1)) % n);
    do {
      features[2] = static_cast<uint8_t>(rng.Below(n));
    } while (features[2] == features[0] || features[2] == features[1]);
  }

  void SetTextAndTags(Product& p, Rng& rng) {
    const SubCategory& sub = subs[p.sub];
    const Department& dept = depts[sub.dept];
    uint8_t features[3];
    PickFeatures(dept, rng, features);
    p.description = Description(p, features, static_cast<int>(rng.Below(8)));
    p.tags.clear();
    p.tags.push_back(Lower(sub.name));
    p.tags.push_back(Lower(dept.adjectives[p.adjective]));
    p.tags.push_back(Lower(dept.materials[p.material]));
    p.tags.push_back(dept.features[features[0]]);
    p.tags.push_back(dept.features[features[1]]);
  }

  // A new product in sub; its popularity rank is drawn against the initial catalog's size.
  int32_t AddProduct(int sub_index, int64_t created_ms, double popularity) {
    Rng& rng = gen;
    const SubCategory& sub = subs[sub_index];
    const Department& dept = depts[sub.dept];
    Product p;
    p.sub = sub_index;
    p.brand = dept.brands[PickCdf(dept.brand_cdf, rng)];
    const Brand& brand = brands[p.brand];
    p.adjective = static_cast<uint8_t>(rng.Below(static_cast<uint32_t>(dept.adjectives.size())));
    p.material = static_cast<uint8_t>(rng.Below(static_cast<uint32_t>(dept.materials.size())));
    p.quality = std::clamp(0.55 + brand.quality_shift + 0.18 * rng.Normal(), 0.02, 0.98);
    const double raw = sub.median_price * brand.premium * std::exp(sub.sigma * rng.Normal()) *
                       (0.8 + 0.4 * p.quality);
    p.initial_price = p.list_price = p.price = ShopPrice(raw);
    p.popularity = popularity;
    p.created_ms = created_ms;
    p.stock = std::clamp<int64_t>(std::llround(rng.LogNormal(std::log(80.0), 0.8)), 5, 2000);
    p.noun = static_cast<uint8_t>(rng.Below(static_cast<uint32_t>(sub.nouns.size())));
    const std::string& noun = sub.nouns[p.noun];
    p.title = brand.name;
    p.title += ' ';
    p.title += dept.adjectives[p.adjective];
    p.title += ' ';
    if (rng.Chance(0.5)) {
      p.title += dept.materials[p.material];
      p.title += ' ';
    }
    p.title += noun;
    if (rng.Chance(0.35)) {
      p.title += ' ';
      p.title += kModelSuffixes[rng.Below(sizeof(kModelSuffixes) / sizeof(kModelSuffixes[0]))];
    }
    SetTextAndTags(p, rng);
    const int32_t index = static_cast<int32_t>(products.size());
    AssignNumberedId('p', index + 1, &p.id);
    products.push_back(std::move(p));
    subs[sub_index].products.push_back(index);
    return index;
  }

  void RebuildCdfs() {
    for (SubCategory& sub : subs) {
      sub.cdf.clear();
      double cum = 0;
      for (int32_t i : sub.products) {
        cum += products[i].popularity * (0.3 + products[i].quality);
        sub.cdf.push_back(cum);
      }
    }
    for (Department& dept : depts) {
      dept.sub_cdf.clear();
      double cum = 0;
      for (int s : dept.subs) {
        cum += static_cast<double>(subs[s].products.size());
        dept.sub_cdf.push_back(cum);
      }
    }
    global_cdf.clear();
    double cum = 0;
    for (const Product& p : products) {
      cum += p.popularity * (0.3 + p.quality);
      global_cdf.push_back(cum);
    }
  }

  void BuildProducts() {
    const int64_t n = options.products;
    initial_products = n;
    // Zipf-like popularity by a random rank.
    std::vector<int64_t> ranks(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ranks[i] = i;
    for (int64_t i = n - 1; i > 0; --i) {
      std::swap(ranks[i], ranks[gen.Below(static_cast<uint32_t>(i + 1))]);
    }
    std::vector<double> sub_cdf;
    double cum = 0;
    for (const SubCategory& sub : subs) {
      cum += depts[sub.dept].catalog_weight / static_cast<double>(depts[sub.dept].subs.size());
      sub_cdf.push_back(cum);
    }
    products.reserve(static_cast<size_t>(n + n / 5 + 16));
    for (int64_t i = 0; i < n; ++i) {
      // Every subcategory gets a product before any gets a second.
      const int sub =
          i < static_cast<int64_t>(subs.size()) ? static_cast<int>(i) : PickCdf(sub_cdf, gen);
      AddProduct(sub, options.start_ms,
                 std::pow(static_cast<double>(ranks[i] + 1), -kZipfExponent));
    }
    RebuildCdfs();
  }

  void MakeTaste(int gender, int age_band, float* taste) {
    std::array<double, kDeptCount> prior;
    for (int d = 0; d < kDeptCount; ++d) prior[d] = depts[d].interest;
    // Demographics lean tastes a little, so that segments differ.
    if (gender == 0) {
      prior[3] *= 2.0;
      prior[2] *= 1.3;
      prior[0] *= 0.8;
    } else if (gender == 1) {
      prior[0] *= 1.4;
      prior[9] *= 1.4;
      prior[4] *= 1.2;
      prior[3] *= 0.5;
    }
    if (age_band == 0) {
      prior[2] *= 1.3;
      prior[0] *= 1.2;
    } else if (age_band == 1 || age_band == 2) {
      prior[6] *= 2.0;
    } else if (age_band >= 4) {
      prior[9] *= 1.6;
      prior[5] *= 1.4;
      prior[0] *= 0.8;
    }
    double prior_total = 0;
    for (double w : prior) prior_total += w;
    // A few favourite departments carry most of the weight; the rest is background.
    const double k_pick = gen.Uniform();
    const int k = k_pick < 0.35 ? 1 : k_pick < 0.8 ? 2 : 3;
    std::array<double, kDeptCount> focus{};
    double focus_total = 0;
    std::array<double, kDeptCount> remaining = prior;
    for (int i = 0; i < k; ++i) {
      const int d = PickWeighted(remaining, gen);
      remaining[d] = 0;
      focus[d] = gen.Gamma(2.0);
      focus_total += focus[d];
    }
    for (int d = 0; d < kDeptCount; ++d) {
      taste[d] = static_cast<float>(0.88 * focus[d] / focus_total + 0.12 * prior[d] / prior_total);
    }
  }

  void BuildUsers() {
    const int64_t n = options.users;
    const int64_t period_ms = options.days * kDayMs;
    std::vector<int64_t> signups(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      signups[i] = gen.Chance(kExistingUserShare)
                       ? options.start_ms
                       : options.start_ms + 1 + gen.Range(0, period_ms - 1);
    }
    std::sort(signups.begin(), signups.end());
    const double rate_norm = std::exp(0.5 * kActivitySigma * kActivitySigma);
    users.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      User& u = users[i];
      u.signup_ms = signups[i];
      if (u.signup_ms == options.start_ms) ++existing_users;
      u.rate =
          static_cast<float>(kSessionsPerUserDay * gen.LogNormal(0, kActivitySigma) / rate_norm);
      u.country = static_cast<uint8_t>(PickCdf(country_cdf, gen));
      // Bigger cities first: Zipf over the list.
      const auto& city_list = cities[u.country];
      std::vector<double> city_cdf;
      double cum = 0;
      for (size_t c = 0; c < city_list.size(); ++c) {
        cum += 1.0 / static_cast<double>(c + 1);
        city_cdf.push_back(cum);
      }
      u.city = static_cast<uint8_t>(PickCdf(city_cdf, gen));
      u.age_band = static_cast<uint8_t>(PickWeighted(kAgeBandWeights, gen));
      u.gender = static_cast<uint8_t>(PickWeighted(kGenderWeights, gen));
      u.channel = static_cast<uint8_t>(PickWeighted(kChannelWeights, gen));
      u.first = static_cast<uint8_t>(gen.Below(sizeof(kFirstNames) / sizeof(kFirstNames[0])));
      u.last = static_cast<uint8_t>(gen.Below(sizeof(kLastNames) / sizeof(kLastNames[0])));
      u.device = u.channel == 1 || u.channel == 2
                     ? 0
                     : static_cast<uint8_t>(PickWeighted(kDeviceWeights, gen));
      u.price_sensitivity = static_cast<float>(0.2 + 1.6 * gen.Uniform() * gen.Uniform());
      MakeTaste(u.gender, u.age_band, u.taste.data());
      // Favourite brands come from the favourite departments.
      u.brand_count = static_cast<uint8_t>(1 + gen.Below(kMaxFavouriteBrands));
      double total = 0;
      for (int b = 0; b < u.brand_count; ++b) {
        std::array<double, kDeptCount> w;
        for (int d = 0; d < kDeptCount; ++d) w[d] = static_cast<double>(u.taste[d]) * u.taste[d];
        const Department& dept = depts[PickWeighted(w, gen)];
        u.brands[b] = static_cast<int16_t>(dept.brands[PickCdf(dept.brand_cdf, gen)]);
        u.brand_weights[b] = static_cast<float>(0.5 + gen.Uniform());
        total += u.brand_weights[b];
      }
      for (int b = 0; b < u.brand_count; ++b) {
        u.brand_weights[b] = static_cast<float>(u.brand_weights[b] / total);
      }
    }
  }

  void Build() {
    BuildCatalogSkeleton();
    BuildProducts();
    BuildUsers();
    huge_text.reserve(80 * 1024);
    while (huge_text.size() < 70 * 1024) {
      const Product& p = products[huge_text.size() / 100 % products.size()];
      huge_text += p.description;
      huge_text += ' ';
    }
    built = true;
  }

  // ---- simulation (one day at a time, into `buffer`)

  Pending& Push(int64_t t, EventType type) {
    Pending& p = buffer.emplace_back();
    p.time_ms = t;
    p.type = static_cast<uint8_t>(type);
    return p;
  }

  int64_t Gap(double median_s) {
    const double s = std::clamp(median_s * gen.LogNormal(0, 0.8), 1.0, 600.0);
    return static_cast<int64_t>(s * 1000.0);
  }

  int PickDept(const float* taste) {
    double x = gen.Uniform();
    for (int d = 0; d < kDeptCount; ++d) {
      x -= taste[d];
      if (x < 0) return d;
    }
    return kDeptCount - 1;
  }

  int PickSub(int dept) {
    const Department& d = depts[dept];
    if (d.sub_cdf.empty() || d.sub_cdf.back() <= 0) return -1;
    return d.subs[PickCdf(d.sub_cdf, gen)];
  }

  bool IsFavourite(const Actor& a, int brand) const {
    for (int b = 0; b < a.brand_count; ++b) {
      if (a.brands[b] == brand) return true;
    }
    return false;
  }

  // How willing the actor is to look at (or buy) p: favourite brands and fair prices win.
  double Appeal(const Actor& a, const Product& p, int64_t t) const {
    const SubCategory& sub = subs[p.sub];
    const double brand = IsFavourite(a, p.brand) ? 1.0 : kNonFavouriteBrandAccept;
    const double ratio = sub.median_price / p.PriceAt(t);
    const double price = ratio >= 1 ? 1.0 : std::pow(ratio, 0.6 * a.price_sensitivity);
    return brand * price;
  }

  // A product of sub the actor would look at, by popularity x quality x appeal; -1 if none.
  int32_t PickProduct(const Actor& a, int sub_index, int64_t t) {
    int32_t fallback = -1;
    for (int attempt = 0; attempt < 6; ++attempt) {
      const std::vector<double>* cdf = &global_cdf;
      const std::vector<int32_t>* list = nullptr;
      if (sub_index >= 0 && !subs[sub_index].cdf.empty() && attempt < 5) {
        cdf = &subs[sub_index].cdf;
        list = &subs[sub_index].products;
      }
      if (cdf->empty()) return -1;
      const int i = PickCdf(*cdf, gen);
      const int32_t pi = list ? (*list)[i] : i;
      const Product& p = products[pi];
      if (!p.AvailableAt(t)) continue;
      fallback = pi;
      if (gen.Chance(Appeal(a, p, t))) return pi;
    }
    return fallback;
  }

  void PushQuery(Pending& p, const Actor& a, int sub_index) {
    const SubCategory& sub = subs[sub_index];
    const Department& dept = depts[sub.dept];
    p.word_count = 0;
    const double r = gen.Uniform();
    if (r < 0.4) {
      p.words[p.word_count++] =
          dept.adjective_words[gen.Below(static_cast<uint32_t>(dept.adjective_words.size()))];
    } else if (r < 0.6) {
      int brand = dept.brands[PickCdf(dept.brand_cdf, gen)];
      for (int b = 0; b < a.brand_count; ++b) {
        if (brands[a.brands[b]].dept == sub.dept) brand = a.brands[b];
      }
      p.words[p.word_count++] = brands[brand].word;
    } else if (r < 0.7) {
      p.words[p.word_count++] =
          dept.material_words[gen.Below(static_cast<uint32_t>(dept.material_words.size()))];
    }
    p.words[p.word_count++] =
        sub.noun_words[gen.Below(static_cast<uint32_t>(sub.noun_words.size()))];
  }

  struct CartItem {
    int32_t product;
    int16_t quantity;
  };

  void SimulateSession(const Actor& a, int64_t start, bool after_signup) {
    const int64_t session = next_session++;
    Pending base;
    base.session = session;
    base.actor = a.user;
    base.flags = a.user < 0 ? uint8_t{kFlagGuest} : uint8_t{0};
    base.device =
        gen.Chance(0.7) ? a.device : static_cast<uint8_t>(PickWeighted(kDeviceWeights, gen));
    base.referrer =
        after_signup ? uint8_t{kDirect} : static_cast<uint8_t>(PickWeighted(kReferrerWeights, gen));
    int64_t t = start;
    if (a.user >= 0 && !after_signup) {
      Pending& login = Push(t, EventType::kLogin);
      login.actor = a.user;
      t += gen.Range(1 * kSecondMs, 6 * kSecondMs);
    }
    bool first = true;
    auto push = [&](EventType type) -> Pending& {
      Pending& p = buffer.emplace_back(base);
      p.time_ms = t;
      p.type = static_cast<uint8_t>(type);
      if (first) {
        p.flags |= kFlagSessionStart;
        first = false;
      }
      return p;
    };

    int focus_dept = PickDept(a.taste);
    int focus_sub = PickSub(focus_dept);
    CartItem cart[8];
    int cart_size = 0;
    int32_t last_product = -1;

    // After a product view the visitor may put it in the cart.
    auto consider = [&](int32_t pi) {
      const Product& p = products[pi];
      if (p.stock <= 0 || cart_size == 8) return;
      const double fav = IsFavourite(a, p.brand) ? 1.6 : 1.0;
      if (!gen.Chance(kAddToCartBase * (0.4 + p.quality) * fav * Appeal(a, p, t))) return;
      t += Gap(15);
      Pending& add = push(EventType::kAddToCart);
      add.product = pi;
      add.quantity = static_cast<int16_t>(gen.Chance(0.85) ? 1 : 2 + gen.Below(2));
      cart[cart_size++] = {pi, add.quantity};
    };
    auto view = [&](int32_t pi, int64_t rec, int position) {
      Pending& v = push(EventType::kProductView);
      v.product = pi;
      v.ref = rec;
      v.position = static_cast<int8_t>(position);
      last_product = pi;
      consider(pi);
    };

    // Landing: search engines, ads and social links go to a product page.
    if ((base.referrer == kSearchEngine || base.referrer == kAds || base.referrer == kSocial) &&
        focus_sub >= 0) {
      const int32_t pi = PickProduct(a, focus_sub, t);
      if (pi >= 0) {
        view(pi, -1, 0);
      } else {
        push(EventType::kPageView).page = kPageHome;
      }
    } else {
      push(EventType::kPageView).page = kPageHome;
    }

    for (int step = 0; step < kMaxSteps && gen.Chance(kContinueProb); ++step) {
      t += Gap(25);
      const double r = gen.Uniform();
      if (r < 0.12) {
        if (!gen.Chance(0.6)) focus_dept = PickDept(a.taste);
        const int sub = PickSub(focus_dept);
        if (sub < 0) continue;
        focus_sub = sub;
        Pending& s = push(EventType::kSearch);
        PushQuery(s, a, sub);
        const Pending query = s;
        t += gen.Range(300, 1500);
        Pending& results = push(EventType::kPageView);
        results.page = kPageSearch;
        std::copy(query.words, query.words + 3, results.words);
        results.word_count = query.word_count;
        t += Gap(6);
        const int32_t pi = PickProduct(a, sub, t);
        if (pi >= 0) view(pi, -1, 0);
      } else if (r < 0.22) {
        if (!gen.Chance(0.7)) focus_dept = PickDept(a.taste);
        const int sub = PickSub(focus_dept);
        if (sub < 0) continue;
        focus_sub = sub;
        Pending& p = push(EventType::kPageView);
        p.page = kPageCategory;
        p.sub = static_cast<int16_t>(sub);
      } else if (r < 0.27) {
        // A "recommended for you" block from a recommender that knows the tastes a little.
        const int64_t rec = next_rec++;
        int32_t shown[4];
        int count = 0;
        for (int i = 0; i < 4; ++i) {
          const int32_t pi = PickProduct(a, PickSub(PickDept(a.taste)), t);
          if (pi < 0 || std::find(shown, shown + count, pi) != shown + count) continue;
          shown[count++] = pi;
          Pending& imp = push(EventType::kRecommendationImpression);
          imp.product = pi;
          imp.ref = rec;
          imp.position = static_cast<int8_t>(count);
        }
        if (count > 0 && gen.Chance(0.3)) {
          const int slot = static_cast<int>(gen.Below(static_cast<uint32_t>(count)));
          t += Gap(8);
          Pending& c = push(EventType::kRecommendationClick);
          c.product = shown[slot];
          c.ref = rec;
          c.position = static_cast<int8_t>(slot + 1);
          t += gen.Range(300, 2000);
          view(shown[slot], rec, slot + 1);
        }
      } else if (r < 0.31 && cart_size > 0) {
        if (gen.Chance(0.5)) {
          const int i = static_cast<int>(gen.Below(static_cast<uint32_t>(cart_size)));
          Pending& rm = push(EventType::kRemoveFromCart);
          rm.product = cart[i].product;
          rm.quantity = cart[i].quantity;
          cart[i] = cart[--cart_size];
        } else {
          push(EventType::kPageView).page = kPageCart;
        }
      } else {
        int sub;
        if (last_product >= 0 && gen.Chance(0.45)) {
          sub = products[last_product].sub;
        } else if (focus_sub >= 0 && gen.Chance(0.75)) {
          sub = focus_sub;
        } else {
          sub = PickSub(PickDept(a.taste));
        }
        const int32_t pi = PickProduct(a, sub, t);
        if (pi >= 0) view(pi, -1, 0);
      }
    }

    if (cart_size > 0 && gen.Chance(kCheckoutProb)) {
      t += Gap(20);
      push(EventType::kPageView).page = kPageCheckout;
      t += Gap(40);
      const int64_t order_no = next_order++;
      for (int i = 0; i < cart_size; ++i) {
        Pending& p = push(EventType::kPurchase);
        p.product = cart[i].product;
        p.quantity = cart[i].quantity;
        p.ref = order_no;
        if (i == 0) p.flags |= kFlagFirstPurchase;
      }
    }
  }

  Actor ActorOf(int32_t index) {
    const User& u = users[index];
    Actor a;
    a.user = index;
    a.taste = u.taste.data();
    a.brands = u.brands.data();
    a.brand_count = u.brand_count;
    a.price_sensitivity = u.price_sensitivity;
    a.device = u.device;
    return a;
  }

  int64_t TimeOfDay() { return PickCdf(hour_cdf, gen) * kHourMs + gen.Range(0, kHourMs); }

  void GenerateCatalogDay(int64_t day_start, int day) {
    const int64_t period_end = options.start_ms + options.days * kDayMs;
    // New products.
    const int64_t fresh = gen.Poisson(kNewProductsPerDay * static_cast<double>(initial_products));
    if (fresh > 0) {
      for (int64_t i = 0; i < fresh; ++i) {
        const int64_t t = day_start + gen.Range(8 * kHourMs, 18 * kHourMs);
        const int sub = static_cast<int>(gen.Below(static_cast<uint32_t>(subs.size())));
        const double rank =
            1 + gen.Below(static_cast<uint32_t>(std::max<int64_t>(initial_products, 1)));
        const int32_t pi = AddProduct(sub, t, std::pow(rank, -kZipfExponent));
        Pending& p = Push(t, EventType::kProductCreated);
        p.product = pi;
      }
      RebuildCdfs();
    }
    const double discontinue = kDiscontinuedOverPeriod / options.days;
    for (size_t i = 0; i < products.size(); ++i) {
      Product& p = products[i];
      if (p.created_ms >= day_start || p.discontinued_ms != kNever) continue;
      const int32_t pi = static_cast<int32_t>(i);
      if (p.price_busy_until_ms <= day_start && gen.Chance(kPriceChangePerDay)) {
        const int64_t t = day_start + gen.Range(6 * kHourMs, 22 * kHourMs);
        if (gen.Chance(0.7)) {
          // A discount for a few days, then back to the list price.
          static constexpr double kCuts[] = {0.1, 0.15, 0.2, 0.25, 0.3, 0.4};
          p.discount_price = Round2(p.list_price * (1 - kCuts[gen.Below(6)]));
          p.discount_from_ms = t;
          p.discount_until_ms = t + gen.Range(1, 8) * kDayMs;
          p.price_busy_until_ms = p.discount_until_ms;
          Pending& start = Push(t, EventType::kPriceChanged);
          start.product = pi;
          start.price = p.discount_price;
          if (p.discount_until_ms < period_end) {
            Pending& end = Push(p.discount_until_ms, EventType::kPriceChanged);
            end.product = pi;
            end.price = p.list_price;
          }
        } else {
          p.list_price = ShopPrice(p.list_price * (1.03 + 0.09 * gen.Uniform()));
          p.price_busy_until_ms = t + kDayMs;
          Pending& up = Push(t, EventType::kPriceChanged);
          up.product = pi;
          up.price = p.list_price;
        }
      }
      if (gen.Chance(kUpdatePerDay)) {
        Pending& up =
            Push(day_start + gen.Range(7 * kHourMs, 20 * kHourMs), EventType::kProductUpdated);
        up.product = pi;
      }
      if (day > 0 && gen.Chance(discontinue)) {
        p.discontinued_ms = day_start + gen.Range(8 * kHourMs, 18 * kHourMs);
        Pending& gone = Push(p.discontinued_ms, EventType::kProductDiscontinued);
        gone.product = pi;
      }
    }
  }

  void GenerateDay(int day) {
    const int64_t day_start = options.start_ms + day * kDayMs;
    const int64_t day_end = day_start + kDayMs;
    if (day == 0) {
      for (size_t i = 0; i < products.size(); ++i) {
        Push(options.start_ms, EventType::kProductCreated).product = static_cast<int32_t>(i);
      }
      for (int64_t i = 0; i < existing_users; ++i) {
        Push(options.start_ms, EventType::kSignup).actor = static_cast<int32_t>(i);
      }
    }
    GenerateCatalogDay(day_start, day);

    const double weekday = kWeekdayFactor[ToCivil(day_start).weekday];
    double expected_sessions = 0;
    int64_t starts[16];
    for (size_t i = 0; i < users.size(); ++i) {
      const User& u = users[i];
      if (u.signup_ms >= day_end) break;  // sorted by signup
      const int32_t ui = static_cast<int32_t>(i);
      const Actor a = ActorOf(ui);
      if (u.signup_ms >= day_start && u.signup_ms > options.start_ms) {
        Push(u.signup_ms, EventType::kSignup).actor = ui;
        SimulateSession(a, u.signup_ms + gen.Range(2 * kSecondMs, 30 * kSecondMs), true);
        continue;
      }
      const double lambda = u.rate * weekday;
      expected_sessions += lambda;
      const int n = static_cast<int>(std::min<int64_t>(gen.Poisson(lambda), 16));
      for (int s = 0; s < n; ++s) starts[s] = day_start + TimeOfDay();
      std::sort(starts, starts + n);
      int64_t free_from = day_start;
      for (int s = 0; s < n; ++s) {
        const int64_t start = std::max(starts[s], free_from);
        SimulateSession(a, start, false);
        free_from = buffer.back().time_ms + 10 * kMinuteMs;
      }
      if (gen.Chance(kProfileUpdatePerDay)) {
        Pending& p = Push(day_start + TimeOfDay(), EventType::kProfileUpdate);
        p.actor = ui;
        p.ref = gen.Below(3);
      }
    }

    const int64_t guests = gen.Poisson(expected_sessions * kGuestShare / (1 - kGuestShare));
    for (int64_t g = 0; g < guests; ++g) {
      Actor a;
      a.user = -1;
      MakeTaste(static_cast<int>(gen.Below(2)), static_cast<int>(gen.Below(6)), guest_taste.data());
      a.taste = guest_taste.data();
      a.price_sensitivity = 0.2 + 1.6 * gen.Uniform();
      a.device = static_cast<uint8_t>(PickWeighted(kDeviceWeights, gen));
      SimulateSession(a, day_start + TimeOfDay(), false);
    }
  }

  // ---- emission

  void FillClick(const Pending& p) {
    Event& e = click;
    e.type = static_cast<EventType>(p.type);
    e.event_time_ms = p.time_ms;
    if (p.flags & kFlagGuest) {
      AssignHexId("g-", Mix64(id_salt + 0x4755455354000000ULL + static_cast<uint64_t>(p.session)),
                  &e.user_id);
    } else {
      AssignNumberedId('u', p.actor + 1, &e.user_id);
    }
    AssignHexId("s-", Mix64(id_salt + 0x5345535300000000ULL + static_cast<uint64_t>(p.session)),
                &e.session_id);
    if (p.product >= 0) {
      e.product_id = products[p.product].id;
      current_product_price = products[p.product].price;
    } else {
      e.product_id.clear();
      current_product_price = -1;
    }
    e.quantity.reset();
    e.price.reset();
    e.currency.clear();
    e.order_id.clear();
    e.query.clear();
    e.page.clear();
    e.rec_id.clear();
    e.position.reset();
    switch (e.type) {
      case EventType::kPageView:
        switch (p.page) {
          case kPageCategory:
            e.page = subs[p.sub].page;
            break;
          case kPageSearch:
            e.page = "/search?q=";
            for (int i = 0; i < p.word_count; ++i) {
              if (i > 0) e.page.push_back('+');
              AppendUrlEncoded(words[p.words[i]], &e.page);
            }
            break;
          case kPageCart:
            e.page = "/cart";
            break;
          case kPageCheckout:
            e.page = "/checkout";
            break;
          default:
            e.page = "/";
            break;
        }
        break;
      case EventType::kSearch:
        for (int i = 0; i < p.word_count; ++i) {
          if (i > 0) e.query.push_back(' ');
          e.query += words[p.words[i]];
        }
        break;
      case EventType::kAddToCart:
      case EventType::kPurchase:
        e.quantity = p.quantity;
        e.price = products[p.product].price;
        e.currency = "EUR";
        if (e.type == EventType::kPurchase) {
          AssignHexId("o-", Mix64(id_salt + 0x4f52444552000000ULL + static_cast<uint64_t>(p.ref)),
                      &e.order_id);
        }
        break;
      case EventType::kRemoveFromCart:
        e.quantity = p.quantity;
        break;
      default:
        break;
    }
    if (p.ref >= 0 && e.type != EventType::kPurchase) {
      AssignHexId("r-", Mix64(id_salt + 0x5245430000000000ULL + static_cast<uint64_t>(p.ref)),
                  &e.rec_id);
      e.position = p.position;
    }
    e.referrer = kReferrers[p.referrer];
    e.device = kDevices[p.device];
  }

  void SetUserAttributes(const User& u, int user_index, bool all, ProfileChange change) {
    UserAttributes& a = user_event.user;
    if (all || change == kChangeCity) {
      a.country = kCountries[u.country].name;
      a.city = cities[u.country][u.city];
    }
    if (all || change == kChangeAgeBand) a.age_band = kAgeBands[u.age_band];
    if (all) {
      a.gender = kGenders[u.gender];
      a.signup_channel = kChannels[u.channel];
    }
    if (all || change == kChangeEmail) {
      std::string& email = a.email.emplace();
      email = kFirstNames[u.first];
      email += '.';
      email += kLastNames[u.last];
      char digits[24];
      std::snprintf(digits, sizeof(digits), "%d@", user_index + 1);
      email += digits;
      email += kEmailDomains[u.email_domain];
    }
  }

  void FillUser(const Pending& p) {
    Event& e = user_event;
    e.type = static_cast<EventType>(p.type);
    e.event_time_ms = p.time_ms;
    AssignNumberedId('u', p.actor + 1, &e.user_id);
    if (!e.user.empty()) e.user = UserAttributes{};
    User& u = users[p.actor];
    if (e.type == EventType::kSignup) {
      SetUserAttributes(u, p.actor, true, kChangeCity);
    } else if (e.type == EventType::kProfileUpdate) {
      ProfileChange change = static_cast<ProfileChange>(p.ref);
      if (change == kChangeAgeBand && u.age_band + 1 >= 6) change = kChangeCity;
      switch (change) {
        case kChangeCity: {
          const uint32_t n = static_cast<uint32_t>(cities[u.country].size());
          u.city = static_cast<uint8_t>((u.city + 1 + world.Below(n - 1)) % n);
          break;
        }
        case kChangeAgeBand:
          ++u.age_band;
          break;
        case kChangeEmail:
          u.email_domain = static_cast<uint8_t>((u.email_domain + 1) % 3);
          break;
      }
      SetUserAttributes(u, p.actor, false, change);
    }
  }

  void FillProduct(const Pending& p) {
    Event& e = product_event;
    e.type = static_cast<EventType>(p.type);
    e.event_time_ms = p.time_ms;
    Product& pr = products[p.product];
    e.product_id = pr.id;
    ProductAttributes& a = e.product;
    a.title.reset();
    a.description.reset();
    a.category.reset();
    a.brand.reset();
    a.currency.reset();
    a.price.reset();
    a.stock.reset();
    a.tags.reset();
    switch (e.type) {
      case EventType::kProductCreated:
        a.title = pr.title;
        a.description = pr.description;
        a.category = subs[pr.sub].path;
        a.brand = brands[pr.brand].name;
        a.price = pr.price;
        a.currency = "EUR";
        a.stock = pr.stock;
        a.tags = pr.tags;
        break;
      case EventType::kProductUpdated:
        ++pr.updates;
        SetTextAndTags(pr, world);
        a.description = pr.description;
        a.tags = pr.tags;
        break;
      case EventType::kPriceChanged:
        pr.price = p.price;
        a.price = pr.price;
        a.currency = "EUR";
        break;
      case EventType::kStockChanged:
        pr.stock += p.quantity;
        if (p.quantity > 0) pr.restock_pending = false;
        a.stock = pr.stock;
        break;
      default:
        break;
    }
  }

  BadKind PickBadKind() { return static_cast<BadKind>(PickWeighted(kBadKindWeights, bad)); }

  uint64_t NextGoodIdHi() { return Mix64(event_salt + good_ids++); }

  // Bad ids live in the other half of the counter space, so they never meet good ones.
  void AssignBadId(std::string* out) {
    const uint64_t hi = Mix64(event_salt + (1ULL << 63) + bad_ids++);
    AssignUuid(hi, Mix64(hi ^ 0xA5A5A5A5A5A5A5A5ULL), out);
  }

  Status EmitRecord(Topic topic, std::string_view key, std::string_view text, int64_t time_ms,
                    const Event* event, bool is_bad) {
    GeneratedRecord r{topic, key, text, time_ms, event, is_bad};
    RECSYS_RETURN_IF_ERROR((*emit)(r));
    ++stats->records;
    ++stats->per_topic[static_cast<int>(topic)];
    if (is_bad) ++stats->bad;
    return Status::OK();
  }

  // Builds a bad record in bad_json from `current` (the good record about to go out) and emits
  // it with the same time.
  Status EmitBad(const Event& current) {
    BadKind kind = PickBadKind();
    if (kind == BadKind::kDuplicate && !has_previous) kind = BadKind::kTruncated;
    const int64_t now = current.event_time_ms;
    Topic topic = current.topic();
    bad_json.clear();
    const Event* source = &current;
    if (kind == BadKind::kWrongType || kind == BadKind::kNegative) {
      // These need a number to spoil: take the latest good event that had a price.
      if (current.price || current.product.price) {
        source = &current;
      } else if (topic == Topic::kClickstream && current_product_price >= 0) {
        // A cart widget that spoils its numbers, on the product just looked at.
        bad_event = current;
        bad_event.type = EventType::kAddToCart;
        bad_event.quantity = 1;
        bad_event.price = current_product_price;
        bad_event.currency = "EUR";
        bad_event.rec_id.clear();
        bad_event.position.reset();
        source = &bad_event;
      } else if (topic == Topic::kProductEvents && has_product_template) {
        source = &product_template;
      } else if (has_click_template) {
        source = &click_template;
      } else if (has_product_template) {
        source = &product_template;
      } else {
        kind = BadKind::kMissingField;
      }
    }
    if (kind == BadKind::kOversized) {
      bad_event = current;
      if (topic == Topic::kClickstream) {
        bad_event.type = EventType::kSearch;
        bad_event.product_id.clear();
        bad_event.quantity.reset();
        bad_event.price.reset();
        bad_event.currency.clear();
        bad_event.order_id.clear();
        bad_event.rec_id.clear();
        bad_event.position.reset();
        bad_event.page.clear();
        bad_event.query.assign(huge_text, 0, 66 * 1024 + bad.Below(4096));
      } else {
        bad_event = Event();
        bad_event.type = EventType::kProductUpdated;
        bad_event.product_id = products[bad.Below(static_cast<uint32_t>(products.size()))].id;
        bad_event.product.description.emplace(huge_text, 0, 66 * 1024 + bad.Below(4096));
      }
      bad_event.event_time_ms = now;
    } else if (kind != BadKind::kDuplicate && kind != BadKind::kNotJson) {
      if (source != &bad_event) bad_event = *source;
      bad_event.event_time_ms = now;
    }
    if (kind != BadKind::kDuplicate && kind != BadKind::kNotJson) {
      AssignBadId(&bad_event.event_id);
      // The producer still knows the message key when the payload lacks it.
      bad_key = bad_event.key();
    }

    switch (kind) {
      case BadKind::kTruncated: {
        AppendEventJson(bad_event, &bad_json);
        const size_t n = bad_json.size();
        bad_json.resize(n / 4 + bad.Below(static_cast<uint32_t>(n - n / 4 - 1)));
        break;
      }
      case BadKind::kNotJson: {
        const uint32_t i = bad.Below(sizeof(kNotJsonTexts) / sizeof(kNotJsonTexts[0]));
        bad_json = kNotJsonTexts[i];
        if (i == 2) bad_json += current.key();
        return EmitRecord(topic, current.key(), bad_json, now, nullptr, true);
      }
      case BadKind::kMissingField: {
        // event_id always; otherwise a field this event type requires.
        const uint32_t which = bad.Below(3);
        if (which == 1 && bad_event.topic() != Topic::kProductEvents) {
          bad_event.user_id.clear();
        } else if (which == 2 && bad_event.topic() == Topic::kClickstream) {
          bad_event.session_id.clear();
        } else if (which == 2 && bad_event.topic() == Topic::kProductEvents) {
          bad_event.product_id.clear();
        } else {
          bad_event.event_id.clear();
        }
        AppendEventJson(bad_event, &bad_json);
        break;
      }
      case BadKind::kWrongType: {
        AppendEventJson(bad_event, &bad_json);
        const bool quantity = bad_event.quantity && bad.Chance(0.4);
        if (!QuoteNumber(&bad_json, quantity ? "quantity" : "price")) {
          QuoteNumber(&bad_json, "schema_version");
        }
        break;
      }
      case BadKind::kNegative:
        if (bad_event.price) {
          if (bad_event.quantity && bad.Chance(0.3)) {
            bad_event.quantity = -*bad_event.quantity;
          } else {
            bad_event.price = -*bad_event.price - 0.01;
          }
        } else if (bad_event.product.price) {
          bad_event.product.price = -*bad_event.product.price - 0.01;
        } else {
          bad_event.product.stock = -1 - static_cast<int64_t>(bad.Below(50));
        }
        AppendEventJson(bad_event, &bad_json);
        break;
      case BadKind::kUnknownType: {
        AppendEventJson(bad_event, &bad_json);
        size_t begin, end;
        if (FindStringValue(bad_json, "event_type", &begin, &end)) {
          bad_json.replace(begin, end - begin,
                           kUnknownTypes[static_cast<int>(bad_event.topic())][bad.Below(4)]);
        }
        break;
      }
      case BadKind::kFutureTime:
        // A century ahead: in the future whatever clock the pipeline later runs on.
        bad_event.event_time_ms = now + (100 + bad.Below(5)) * 365 * kDayMs + bad.Range(0, kDayMs);
        AppendEventJson(bad_event, &bad_json);
        break;
      case BadKind::kBadTime: {
        AppendEventJson(bad_event, &bad_json);
        size_t begin, end;
        if (FindStringValue(bad_json, "event_time", &begin, &end)) {
          bad_json.replace(begin, end - begin,
                           kBadTimes[bad.Below(sizeof(kBadTimes) / sizeof(kBadTimes[0]))]);
        }
        break;
      }
      case BadKind::kUnsupportedSchema:
        bad_event.schema_version = kSchemaVersion + 1 + static_cast<int>(bad.Below(8));
        AppendEventJson(bad_event, &bad_json);
        break;
      case BadKind::kOversized:
        AppendEventJson(bad_event, &bad_json);
        break;
      case BadKind::kDuplicate:
        // A producer retry: the previous good record again, byte for byte.
        return EmitRecord(previous_topic, previous_key, previous_json, now, nullptr, true);
    }
    return EmitRecord(bad_event.topic(), bad_key, bad_json, now, nullptr, true);
  }

  Status EmitGood(Event& e) {
    const uint64_t hi = NextGoodIdHi();
    AssignUuid(hi, Mix64(hi ^ 0xA5A5A5A5A5A5A5A5ULL), &e.event_id);
    json.clear();
    AppendEventJson(e, &json);
    if (options.bad_rate > 0) {
      while (bad.Uniform() < options.bad_rate) RECSYS_RETURN_IF_ERROR(EmitBad(e));
    }
    RECSYS_RETURN_IF_ERROR(EmitRecord(e.topic(), e.key(), json, e.event_time_ms, &e, false));
    if (options.bad_rate > 0) {
      previous_json.swap(json);
      previous_topic = e.topic();
      previous_key = e.key();
      has_previous = true;
      if (e.price) {
        click_template = e;
        has_click_template = true;
      } else if (e.product.price) {
        product_template = e;
        has_product_template = true;
      }
    }
    return Status::OK();
  }

  Status EmitPending(const Pending& p, int64_t next_day_start) {
    const EventType type = static_cast<EventType>(p.type);
    switch (TopicOf(type)) {
      case Topic::kClickstream:
        FillClick(p);
        RECSYS_RETURN_IF_ERROR(EmitGood(click));
        if (p.flags & kFlagSessionStart) ++stats->sessions;
        if (type == EventType::kPurchase) {
          ++stats->purchases;
          if (p.flags & kFlagFirstPurchase) ++stats->converting_sessions;
          RECSYS_RETURN_IF_ERROR(Deplete(p, next_day_start));
        }
        return Status::OK();
      case Topic::kUserEvents:
        FillUser(p);
        return EmitGood(user_event);
      case Topic::kProductEvents:
        // A discontinued product changes no more (a discount's end or a restock may fall after).
        if (type != EventType::kProductDiscontinued &&
            p.time_ms >= products[p.product].discontinued_ms) {
          return Status::OK();
        }
        FillProduct(p);
        return EmitGood(product_event);
    }
    return Status::OK();
  }

  // A sale takes stock; low stock orders a restock that arrives a day or two later.
  Status Deplete(const Pending& purchase, int64_t next_day_start) {
    Product& pr = products[purchase.product];
    pr.stock = std::max<int64_t>(0, pr.stock - purchase.quantity);
    Pending change;
    change.time_ms = purchase.time_ms;
    change.type = static_cast<uint8_t>(EventType::kStockChanged);
    change.product = purchase.product;
    change.quantity = 0;
    FillProduct(change);
    RECSYS_RETURN_IF_ERROR(EmitGood(product_event));
    if (pr.stock <= kReorderLevel && !pr.restock_pending && pr.discontinued_ms == kNever) {
      pr.restock_pending = true;
      Pending& restock = scheduled.emplace_back();
      restock.time_ms = next_day_start + world.Range(6 * kHourMs, 40 * kHourMs);
      restock.type = static_cast<uint8_t>(EventType::kStockChanged);
      restock.product = purchase.product;
      restock.quantity = static_cast<int16_t>(40 + world.Below(200));
    }
    return Status::OK();
  }

  // Emits buffered events before cutoff in time order; later ones wait for the next day.
  Status Flush(int64_t cutoff, bool last) {
    order.clear();
    order.reserve(buffer.size());
    for (size_t i = 0; i < buffer.size(); ++i) {
      order.emplace_back(buffer[i].time_ms, static_cast<uint32_t>(i));
    }
    std::sort(order.begin(), order.end());
    carry.clear();
    for (const auto& [time, index] : order) {
      if (time >= cutoff) {
        if (!last) carry.push_back(buffer[index]);
        continue;
      }
      RECSYS_RETURN_IF_ERROR(EmitPending(buffer[index], cutoff));
    }
    buffer.swap(carry);
    if (!last) buffer.insert(buffer.end(), scheduled.begin(), scheduled.end());
    scheduled.clear();
    return Status::OK();
  }
};

Generator::Generator(GeneratorOptions options)
    : options_(options), impl_(std::make_unique<Impl>(options_, &stats_)) {}

Generator::~Generator() = default;

Status Generator::Run(const std::function<Status(const GeneratedRecord&)>& emit) {
  if (impl_->built) return Status::InvalidArgument("generator: Run may be called only once");
  if (options_.users < 0 || options_.users > 99999999) {
    return Status::InvalidArgument("generator: users must be in [0, 99999999], not " +
                                   std::to_string(options_.users));
  }
  if (options_.products < 1 || options_.products > 4000000) {
    return Status::InvalidArgument("generator: products must be in [1, 4000000], not " +
                                   std::to_string(options_.products));
  }
  if (options_.days < 1 || options_.days > 3650) {
    return Status::InvalidArgument("generator: days must be in [1, 3650], not " +
                                   std::to_string(options_.days));
  }
  if (!(options_.bad_rate >= 0 && options_.bad_rate <= 0.5)) {
    return Status::InvalidArgument("generator: bad_rate must be in [0, 0.5], not " +
                                   std::to_string(options_.bad_rate));
  }
  Impl& impl = *impl_;
  impl.emit = &emit;
  impl.Build();
  for (int day = 0; day < options_.days; ++day) {
    impl.GenerateDay(day);
    const bool last = day + 1 == options_.days;
    RECSYS_RETURN_IF_ERROR(impl.Flush(options_.start_ms + (day + 1) * kDayMs, last));
  }
  impl.emit = nullptr;
  return Status::OK();
}

Status Generator::WriteGroundTruth(const std::string& dir) const {
  const Impl& impl = *impl_;
  if (!impl.built)
    return Status::InvalidArgument("WriteGroundTruth " + dir + ": Run has not been called");
  const std::string folder = JoinPath(dir, "ground_truth");
  RECSYS_RETURN_IF_ERROR(CreateDirs(folder));
  char buf[128];
  std::string id;

  std::string tastes = "user_id";
  for (const Department& d : impl.depts) tastes += "," + d.name;
  tastes += '\n';
  std::string brands = "user_id,brand,weight\n";
  std::string users =
      "user_id,signup_time,country,city,age_band,gender,signup_channel,"
      "sessions_per_day,price_sensitivity\n";
  for (size_t i = 0; i < impl.users.size(); ++i) {
    const User& u = impl.users[i];
    AssignNumberedId('u', static_cast<int64_t>(i) + 1, &id);
    tastes += id;
    for (float w : u.taste) {
      std::snprintf(buf, sizeof(buf), ",%.4f", w);
      tastes += buf;
    }
    tastes += '\n';
    for (int b = 0; b < u.brand_count; ++b) {
      std::snprintf(buf, sizeof(buf), ",%.4f\n", u.brand_weights[b]);
      brands += id + "," + impl.brands[u.brands[b]].name + buf;
    }
    std::snprintf(buf, sizeof(buf), ",%.4f,%.4f\n", u.rate, u.price_sensitivity);
    users += id + "," + FormatRfc3339Millis(u.signup_ms) + "," + kCountries[u.country].name + "," +
             impl.cities[u.country][u.city] + "," + kAgeBands[u.age_band] + "," +
             kGenders[u.gender] + "," + kChannels[u.channel] + buf;
  }
  double popularity_total = 0;
  for (const Product& p : impl.products) popularity_total += p.popularity;
  std::string products = "product_id,category,brand,price,quality,popularity\n";
  for (const Product& p : impl.products) {
    std::snprintf(buf, sizeof(buf), ",%.2f,%.4f,%.8f\n", p.initial_price, p.quality,
                  p.popularity / popularity_total);
    products += p.id + "," + impl.subs[p.sub].path + "," + impl.brands[p.brand].name + buf;
  }
  const std::string readme =
      "# Ground truth of a generated shop\n\n"
      "The hidden model the generator drew its events from, for checking what a recommender or a\n"
      "segmentation recovers. Rows are in id order; numbers are plain decimals.\n\n"
      "- `user_tastes.csv`: per user, the weight of each top-level category in their choices\n"
      "  (the weights of a row sum to 1). Most of it sits on one to three categories.\n"
      "- `user_brands.csv`: per user, one to three favourite brands and their relative weight\n"
      "  (a row per brand); favourite brands are viewed and bought more often.\n"
      "- `users.csv`: signup time and the demographics the user signed up with, the mean number\n"
      "  of sessions per day (heavy-tailed) and the price sensitivity (0.2 to 1.8: higher shuns\n"
      "  prices above the subcategory median).\n"
      "- `products.csv`: category path, brand, price at creation (EUR), latent quality (0 to 1)\n"
      "  and base popularity (a share; all rows sum to 1), including products created during\n"
      "  the period. Views follow taste x popularity x (0.3 + quality), damped by brand and "
      "price.\n";
  RECSYS_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(folder, "user_tastes.csv"), tastes));
  RECSYS_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(folder, "user_brands.csv"), brands));
  RECSYS_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(folder, "users.csv"), users));
  RECSYS_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(folder, "products.csv"), products));
  return WriteFileAtomic(JoinPath(folder, "README.md"), readme);
}

}  // namespace recsys
