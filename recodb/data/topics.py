"""Topic vocabularies for generated posts: each topic's words appear (almost) only in it."""

_TABLE = """
ai            model neural training gpu transformer dataset inference llm embedding benchmark agent prompt finetune tokens attention
cooking       recipe garlic oven simmer sourdough spice braise pasta butter skillet broth roast dough saute umami
football      goal striker derby penalty midfield keeper league offside transfer tactics pitch header fixture winger kickoff
climbing      boulder crag belay crimp chalk rope overhang grade carabiner summit harness slab dyno topout quickdraw
finance       stocks dividend portfolio inflation bonds yield earnings index hedge valuation etf liquidity equity rates ledger
gaming        console speedrun quest respawn loot controller patch raid boss multiplayer fps esports pixel savefile lobby
music         album chorus guitar vinyl synth tempo melody drummer setlist remix bassline lyrics acoustic mixtape encore
travel        passport itinerary hostel layover backpack airport visa roadtrip ferry souvenir luggage jetlag scenic border trek
gardening     compost seedling tomato prune mulch greenhouse perennial soil harvest trellis weeding bulbs raised sprout pollinator
astronomy     telescope nebula galaxy eclipse orbit comet planet exoplanet meteor constellation lunar aurora stargazing supernova redshift
fitness       squat deadlift cardio protein reps stretch marathon hiit kettlebell mobility plank sprint recovery gains treadmill
photography   aperture shutter lens exposure tripod portrait bokeh iso darkroom mirrorless framing golden raw lightroom zoom
film          director screenplay trailer cinema sequel cast premiere cinematography festival indie documentary montage reel oscar scene
programming   python compiler refactor debugger commit rust typescript linter async closure regex monorepo kernel pointer api
books         novel chapter author paperback library bookclub memoir fiction poetry bestseller manuscript prose anthology epilogue bookshelf
pets          puppy kitten leash vet adoption treats litter grooming fetch purr aquarium hamster parrot kibble rescue
cycling       bike peloton saddle gravel cadence derailleur helmet climb crit spokes chainring velodrome commute tubeless sprinter
fashion       runway denim tailoring sneakers couture vintage outfit fabric streetwear silhouette accessories lookbook stitching trend wardrobe
politics      election senate policy ballot campaign parliament debate legislation poll mayor coalition referendum budget minister governor
science       experiment molecule hypothesis laboratory genome physics microscope enzyme quantum peer isotope catalyst specimen theorem vaccine
coffee        espresso latte ristretto grinder barista pourover crema beans aeropress cortado brew arabica portafilter decaf cafe
architecture  facade concrete blueprint brutalist atrium cantilever skyline vault modernist zoning timber courtyard column renovation tower
parenting     toddler bedtime diaper preschool lullaby playdate naptime stroller tantrum homework babysitter milestone crib teething sibling
crypto        bitcoin blockchain wallet token mining defi hodl altcoin staking nft hashrate exchange satoshi smartcontract airdrop
"""

TOPICS: dict[str, tuple[str, ...]] = {
    line.split()[0]: tuple(line.split()[1:]) for line in _TABLE.strip().splitlines()
}
