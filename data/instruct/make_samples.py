"""Write our instruction-data samples (deterministic; run from the repo root).

    python data/instruct/make_samples.py

Every sentence below was written for this project; no row is copied from Stanford Alpaca,
KoAlpaca, self-instruct, Dolly or OASST1. The files follow those datasets' real schemas.
Rows are built by combining hand-written facts with hand-written task frames, and a few
faults are planted on purpose (see README.md in this folder). ``"_ours": true``-style
markers would break the real schemas, so each file is marked as ours by its name
(``*_sample*``) and by the datasheet; URLs point at the reserved ``.invalid`` domain.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "samples"

# ---------------------------------------------------------------------------
# English facts (hand-written) for the Alpaca, Dolly and seed samples
# ---------------------------------------------------------------------------
EN_TOPICS = [
    # name, kind, definition, examples, plus, minus
    ("photosynthesis", "process", "the way green plants turn light, water and carbon dioxide into sugar and oxygen",
     ["oak leaves", "algae in a pond", "grass on a lawn"], "it feeds almost every food chain", "it stops in the dark"),
    ("a budget", "tool", "a plan that matches expected income with planned spending for a period",
     ["a monthly household plan", "a school trip budget", "a project cost sheet"], "it shows where money goes", "it takes time to keep up to date"),
    ("recycling", "practice", "collecting used materials and processing them into new products",
     ["glass bottles", "aluminium cans", "cardboard boxes"], "it saves raw materials", "sorting mistakes can spoil a whole batch"),
    ("a password manager", "tool", "software that stores long, unique passwords in an encrypted vault",
     ["a browser vault", "a desktop app", "a phone app"], "each site can get a different strong password", "the master password becomes a single point of failure"),
    ("inflation", "process", "a general rise in prices that lowers what a unit of money can buy",
     ["rising bread prices", "higher rents", "costlier bus tickets"], "mild inflation encourages spending over hoarding", "savings lose value"),
    ("a volcano", "landform", "an opening in the crust where molten rock, ash and gas escape",
     ["Mount Fuji", "Hallasan", "Mount Etna"], "volcanic soil is often fertile", "eruptions can destroy nearby towns"),
    ("remote work", "practice", "doing one's job from outside a central office, usually from home",
     ["a developer coding from home", "a translator in a cafe", "a support agent on video calls"], "no commute", "it can feel isolating"),
    ("a neural network", "model", "a function built from layers of weighted sums and non-linear activations, fitted to data",
     ["an image classifier", "a speech recognizer", "a language model"], "it learns features from raw data", "it needs a lot of data and compute"),
    ("compound interest", "concept", "interest earned on both the original sum and the interest already added",
     ["a savings account", "a long-term bond", "a retirement fund"], "growth speeds up over time", "it also makes unpaid debt grow quickly"),
    ("a haiku", "poem form", "a short poem of three lines with five, seven and five syllables",
     ["a poem about autumn leaves", "a poem about a frog", "a poem about first snow"], "it trains precise word choice", "little room for detail"),
    ("the water cycle", "process", "the continuous movement of water through evaporation, condensation and precipitation",
     ["rain over the sea", "morning dew", "river runoff"], "it redistributes fresh water", "it can bring floods and droughts"),
    ("a sourdough starter", "mixture", "a fermented mix of flour and water that carries wild yeast and lactic bacteria",
     ["a rye starter", "a wheat starter", "a whole-grain starter"], "bread keeps longer", "it needs regular feeding"),
    ("version control", "tool", "a system that records changes to files so earlier versions can be recalled",
     ["git", "Mercurial", "Subversion"], "teams can work in parallel", "merging conflicts takes practice"),
    ("a solar panel", "device", "a panel of cells that convert sunlight directly into electricity",
     ["a rooftop array", "a calculator cell", "a satellite wing"], "no fuel is burned", "output drops on cloudy days"),
    ("a vaccine", "medicine", "a preparation that trains the immune system to recognize a pathogen",
     ["a measles shot", "a flu shot", "a tetanus shot"], "it prevents disease before it starts", "some need booster doses"),
    ("a haircut", "service", "trimming and shaping hair with scissors or clippers",
     ["a bob", "a buzz cut", "a layered cut"], "it keeps hair healthy", "a bad one takes weeks to grow out"),
    ("a marathon", "event", "a running race of 42.195 kilometres",
     ["the Boston Marathon", "the Seoul Marathon", "the Berlin Marathon"], "it builds endurance", "training takes months"),
    ("a spreadsheet", "tool", "a grid of cells in which values and formulas can be organised and recalculated",
     ["a grade book", "an expense tracker", "an inventory list"], "calculations update automatically", "large sheets become hard to audit"),
    ("a thunderstorm", "weather", "a storm with lightning and thunder, often with heavy rain",
     ["a summer afternoon storm", "a squall line", "a supercell"], "it refreshes the air", "lightning can start fires"),
    ("a library card", "document", "a card that lets a member borrow books and media from a library",
     ["a city library card", "a university card", "a digital library pass"], "reading is free", "late returns may cost a fee"),
    ("meditation", "practice", "training attention, often by focusing on the breath for a set time",
     ["a ten-minute breathing session", "a body scan", "a walking meditation"], "it can lower stress", "results take regular practice"),
    ("a food truck", "business", "a vehicle equipped to cook and sell food on the street",
     ["a taco truck", "a tteokbokki truck", "a coffee van"], "low start-up cost compared with a restaurant", "permits limit where it can park"),
    ("an electric car", "vehicle", "a car driven by electric motors powered from a rechargeable battery",
     ["a compact hatchback", "a delivery van", "a city taxi"], "no tailpipe emissions", "charging takes longer than refuelling"),
    ("a museum", "institution", "a place that collects, preserves and displays objects of cultural or scientific value",
     ["an art museum", "a science museum", "a folk museum"], "it keeps history accessible", "it is costly to maintain"),
    ("a bicycle", "vehicle", "a two-wheeled vehicle moved by pedals",
     ["a road bike", "a folding bike", "a mountain bike"], "cheap and healthy transport", "hard work on steep hills"),
]

EN_PARAGRAPHS = [
    ("The town council voted on Tuesday to close the old bridge for six months. Engineers found rust in its steel beams, and repairs will cost about 3 million dollars. A ferry will run every twenty minutes while the work goes on.",
     "The council is closing the rusty old bridge for six months of repairs and will run a ferry meanwhile."),
    ("Our bakery starts baking at four in the morning. The first loaves are ready at six, when commuters stop by. By noon most of the bread is sold, and leftovers go to a shelter in the evening.",
     "The bakery bakes from early morning, sells most bread by noon and gives leftovers to a shelter."),
    ("The school library added forty new laptops this term. Students can borrow one for a week with their student card. Damaged laptops must be reported to the librarian the same day.",
     "Students can now borrow one of forty new library laptops for a week and must report damage at once."),
    ("Heavy snow is expected in the mountains tonight. Drivers should carry chains, and the main pass may close after midnight. Buses will keep running on the valley road.",
     "Snow may close the mountain pass tonight, so drivers need chains while valley buses continue."),
    ("The museum will stay open until nine on Fridays this summer. Evening visitors get a guided tour of the new ocean gallery. Tickets bought online are ten percent cheaper.",
     "This summer the museum opens late on Fridays with a gallery tour and cheaper online tickets."),
    ("A local team built a robot that sorts plastic bottles by colour. It uses a small camera and a cheap processor. The team hopes recycling centres will adopt it next year.",
     "A local team made a low-cost robot that sorts bottles by colour and hopes recycling centres will use it."),
    ("Our office will move to the fifth floor next Monday. Please pack your desks by Friday afternoon. Movers will take the boxes over the weekend.",
     "The office moves to the fifth floor on Monday, so desks must be packed by Friday."),
    ("The river festival returns on the first weekend of June. There will be boat races, food stalls and fireworks on Saturday night. Entry is free for children under twelve.",
     "The river festival is back in early June with races, food and fireworks, free for young children."),
]

EN_CLASSIFY = [
    ("apple", "fruit"), ("carrot", "vegetable"), ("banana", "fruit"), ("spinach", "vegetable"),
    ("salmon", "animal"), ("oak", "plant"), ("eagle", "animal"), ("fern", "plant"),
    ("hammer", "tool"), ("violin", "instrument"), ("wrench", "tool"), ("drum", "instrument"),
]

EN_ODD = [
    (["Twitter", "Instagram", "Excel"], "Excel"), (["red", "green", "seven"], "seven"),
    (["Seoul", "Busan", "Tokyo"], "Tokyo"), (["cat", "dog", "rose"], "rose"),
    (["piano", "guitar", "spoon"], "spoon"), (["Monday", "Friday", "April"], "April"),
]


def _en_alpaca(rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    for name, kind, definition, examples, plus, minus in EN_TOPICS:
        bare = name.removeprefix("a ").removeprefix("an ").removeprefix("the ")
        rows.append({"instruction": f"Explain what {name} is.", "input": "",
                     "output": f"{name[0].upper() + name[1:]} is {definition}. A familiar example is {examples[0]}."})
        rows.append({"instruction": f"Give three examples of {bare}s." if kind != "process" and kind != "concept" and kind != "practice"
                     else f"Give three everyday examples of {bare}.", "input": "",
                     "output": "1. " + examples[0].capitalize() + "\n2. " + examples[1].capitalize() + "\n3. " + examples[2].capitalize()})
        rows.append({"instruction": f"List one advantage and one disadvantage of {name}.", "input": "",
                     "output": f"Advantage: {plus}.\nDisadvantage: {minus}."})
        rows.append({"instruction": f"Write a short paragraph for a ten-year-old about {name}.", "input": "",
                     "output": f"Have you ever heard of {name}? It is {definition}. You can see it in {examples[1]}. "
                               f"People like it because {plus}, but {minus}. Next time you meet {examples[2]}, think about it!"})
    for text, summary in EN_PARAGRAPHS:
        rows.append({"instruction": "Summarize the following text in one sentence.", "input": text, "output": summary})
        rows.append({"instruction": "Suggest a short title for this text.", "input": text,
                     "output": " ".join(w.capitalize() for w in summary.split()[1:6])})
    for item, label in EN_CLASSIFY:
        rows.append({"instruction": "Classify the following item as a fruit, vegetable, animal, plant, tool or instrument.",
                     "input": item, "output": label.capitalize()})
    for items, odd in EN_ODD:
        rows.append({"instruction": "Identify the odd one out.", "input": ", ".join(items), "output": odd})
    for _ in range(10):
        a, b = rng.randint(12, 999), rng.randint(12, 999)
        rows.append({"instruction": f"Calculate the sum of {a} and {b}.", "input": "", "output": str(a + b)})
    for _ in range(6):
        nums = rng.sample(range(1, 100), 6)
        rows.append({"instruction": "Sort the following numbers in ascending order.",
                     "input": ", ".join(map(str, nums)), "output": ", ".join(map(str, sorted(nums)))})
    for c in (0, 15, 25, 37, 100):
        rows.append({"instruction": f"Convert {c} degrees Celsius to Fahrenheit.", "input": "",
                     "output": f"{c} degrees Celsius is {c * 9 / 5 + 32:g} degrees Fahrenheit."})
    for s in ("The cat sat on the warm mat.", "We will meet at the station at noon.", "Rain is expected later today."):
        rows.append({"instruction": "Count the number of words in the sentence.", "input": s, "output": str(len(s.split()))})
    # planted faults: near-duplicates, an exact duplicate, very short answers
    rows.append({"instruction": "Explain what photosynthesis is in simple terms.", "input": "",
                 "output": "Photosynthesis is how green plants make sugar and oxygen from light, water and carbon dioxide."})
    rows.append({"instruction": "Explain what a budget is.", "input": "",
                 "output": "A budget is a plan for income and spending."})
    rows.append(dict(rows[0]))
    rows.append({"instruction": "Is the sky blue on a clear day?", "input": "", "output": "Yes."})
    rows.append({"instruction": "Describe your favourite season.", "input": "", "output": "Autumn."})
    rows.append({"instruction": "Rewrite the sentence in the passive voice.", "input": "The chef cooked the soup.",
                 "output": "The soup was cooked by the chef."})
    rows.append({"instruction": "Rewrite the sentence in the passive voice.", "input": "The wind broke the window.",
                 "output": "The window was broken by the wind."})
    rows.append({"instruction": "Suggest three names for a bakery.", "input": "",
                 "output": "Morning Crust, The Flour Box, Second Rise"})
    rows.append({"instruction": "What is the capital of France?", "input": "", "output": "Paris"})
    rows.append({"instruction": "How many legs does a spider have?", "input": "", "output": "Eight."})
    rng.shuffle(rows)
    return rows


# ---------------------------------------------------------------------------
# Korean v1.0 (translated instructions, short answers)
# ---------------------------------------------------------------------------
KO_TOPICS = [
    ("광합성", "식물이 빛, 물, 이산화탄소로 당과 산소를 만드는 과정", "떡갈나무 잎", "먹이 사슬의 바탕이 된다", "어두우면 멈춘다"),
    ("예산", "일정 기간의 수입과 지출을 맞춰 세운 계획", "한 달 가계부", "돈이 어디에 쓰이는지 보인다", "꾸준히 고쳐야 한다"),
    ("재활용", "쓰고 난 물건을 모아 새 제품의 원료로 쓰는 일", "유리병", "자원을 아낀다", "분리가 잘못되면 전체를 버린다"),
    ("비밀번호 관리자", "긴 비밀번호를 암호화해 보관하는 프로그램", "브라우저 보관함", "사이트마다 다른 비밀번호를 쓸 수 있다", "마스터 비밀번호가 약점이 된다"),
    ("인플레이션", "물가가 전반적으로 올라 돈의 가치가 떨어지는 현상", "빵값 상승", "소비를 부추긴다", "저축의 가치가 줄어든다"),
    ("화산", "땅속의 마그마와 가스가 분출되는 곳", "한라산", "화산토가 비옥하다", "분화 때 마을이 피해를 입는다"),
    ("원격 근무", "사무실 밖에서, 주로 집에서 일하는 방식", "재택 개발자", "출퇴근이 없다", "고립감을 느낄 수 있다"),
    ("신경망", "가중합과 비선형 함수를 층층이 쌓아 데이터에 맞춘 함수", "이미지 분류기", "특징을 스스로 배운다", "데이터와 계산이 많이 든다"),
    ("복리", "원금과 이미 붙은 이자 모두에 이자가 붙는 방식", "적금", "시간이 갈수록 빨리 불어난다", "빚도 빨리 불어난다"),
    ("물의 순환", "증발, 응결, 강수를 거쳐 물이 계속 움직이는 과정", "바다 위의 비", "민물을 고루 나눈다", "홍수와 가뭄을 낳기도 한다"),
    ("버전 관리", "파일의 변경 이력을 기록해 이전 상태로 돌아갈 수 있게 하는 시스템", "git", "여럿이 동시에 작업할 수 있다", "병합 충돌을 다루기 어렵다"),
    ("태양광 패널", "햇빛을 전기로 바꾸는 전지판", "지붕 위 패널", "연료를 태우지 않는다", "흐린 날에는 발전량이 준다"),
    ("백신", "면역 체계가 병원체를 알아보도록 훈련시키는 약", "독감 예방주사", "병을 미리 막는다", "추가 접종이 필요할 수 있다"),
    ("마라톤", "42.195킬로미터를 달리는 경주", "서울 마라톤", "지구력이 길러진다", "훈련에 몇 달이 걸린다"),
    ("스프레드시트", "셀에 값과 수식을 넣어 자동으로 계산하는 표", "성적표", "계산이 자동으로 바뀐다", "커지면 검토가 어렵다"),
    ("명상", "호흡 등에 주의를 모으는 훈련", "10분 호흡 명상", "스트레스를 줄일 수 있다", "꾸준히 해야 효과가 있다"),
    ("전기차", "배터리 전기로 모터를 돌려 달리는 자동차", "시내 택시", "배기가스가 없다", "충전이 주유보다 오래 걸린다"),
    ("박물관", "문화적, 과학적 가치가 있는 물건을 모아 전시하는 곳", "민속 박물관", "역사를 누구나 볼 수 있다", "운영비가 많이 든다"),
    ("자전거", "페달을 밟아 움직이는 두 바퀴 탈것", "접이식 자전거", "싸고 건강한 교통수단이다", "언덕에서 힘들다"),
    ("뇌우", "번개와 천둥을 동반한 폭풍", "여름 오후의 소나기", "공기를 맑게 한다", "번개가 화재를 일으킬 수 있다"),
]

KO_PARAGRAPHS = [
    ("시의회는 화요일에 낡은 다리를 6개월 동안 폐쇄하기로 의결했습니다. 기술자들이 철제 보에서 녹을 발견했기 때문입니다. 공사 기간에는 20분마다 배가 운행됩니다.",
     "녹슨 다리가 6개월간 수리를 위해 폐쇄되고 그동안 배가 운행됩니다."),
    ("우리 빵집은 새벽 4시에 굽기 시작합니다. 첫 빵은 6시에 나오고 정오쯤이면 대부분 팔립니다. 남은 빵은 저녁에 쉼터로 보냅니다.",
     "빵집은 새벽부터 빵을 구워 정오까지 대부분 팔고 남은 빵은 기부합니다."),
    ("학교 도서관에 노트북 40대가 새로 들어왔습니다. 학생증이 있으면 일주일 동안 빌릴 수 있습니다. 고장 난 노트북은 당일에 사서에게 알려야 합니다.",
     "학생은 도서관의 새 노트북을 일주일간 빌릴 수 있고 고장은 바로 알려야 합니다."),
    ("오늘 밤 산간 지역에 폭설이 예상됩니다. 운전자는 체인을 준비해야 하며 자정 이후 고개가 통제될 수 있습니다. 계곡 도로의 버스는 계속 운행합니다.",
     "폭설로 오늘 밤 고개가 통제될 수 있으니 체인을 준비해야 합니다."),
    ("박물관은 올여름 금요일마다 밤 9시까지 문을 엽니다. 저녁 관람객은 새 해양관 해설을 들을 수 있습니다. 온라인 예매는 10퍼센트 할인됩니다.",
     "올여름 박물관은 금요일 야간 개장과 해설, 온라인 할인을 제공합니다."),
]

KO_CLASSIFY = [("사과", "과일"), ("당근", "채소"), ("바나나", "과일"), ("시금치", "채소"), ("연어", "동물"),
               ("참나무", "식물"), ("독수리", "동물"), ("망치", "도구"), ("바이올린", "악기"), ("북", "악기")]
KO_ODD = [(["트위터", "인스타그램", "엑셀"], "엑셀"), (["빨강", "초록", "일곱"], "일곱"), (["서울", "부산", "도쿄"], "도쿄"),
          (["고양이", "개", "장미"], "장미"), (["피아노", "기타", "숟가락"], "숟가락")]


def _ko_v10(rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    for name, definition, example, plus, minus in KO_TOPICS:
        rows.append({"instruction": f"{name}이 무엇인지 설명하세요." if _has_batchim(name) else f"{name}가 무엇인지 설명하세요.",
                     "input": "", "output": f"{name}{'은' if _has_batchim(name) else '는'} {definition}입니다."})
        rows.append({"instruction": f"{name}의 장점과 단점을 하나씩 나열합니다.", "input": "",
                     "output": f"장점은 {plus}는 것이고, 단점은 {minus}는 것입니다."})
        rows.append({"instruction": f"{name}의 예를 하나 제공하십시오.", "input": "", "output": f"{example}."})
        rows.append({"instruction": f"10살 어린이를 위해 {name}에 대한 짧은 단락을 작성하세요.", "input": "",
                     "output": f"{name}{'은' if _has_batchim(name) else '는'} {definition}이에요. {example}에서 볼 수 있어요."})
        rows.append({"instruction": f"{name}에 대한 한 문장의 사실을 생성합니다.", "input": "",
                     "output": f"{name}{'은' if _has_batchim(name) else '는'} {plus}."[:-1] + "는 장점이 있습니다."})
    for text, summary in KO_PARAGRAPHS:
        rows.append({"instruction": "다음 텍스트를 한 문장으로 요약하세요.", "input": text, "output": summary})
        rows.append({"instruction": "이 텍스트에 대한 짧은 제목을 제안합니다.", "input": text, "output": summary.split()[0] + " 소식"})
    for item, label in KO_CLASSIFY:
        rows.append({"instruction": "다음 항목을 과일, 채소, 동물, 식물, 도구 또는 악기로 분류합니다.", "input": item, "output": label})
    for items, odd in KO_ODD:  # the literal rendering of "odd one out" is a classic translation artifact
        rows.append({"instruction": "홀수 하나를 식별하세요.", "input": ", ".join(items), "output": odd})
    for _ in range(10):
        a, b = rng.randint(12, 999), rng.randint(12, 999)
        rows.append({"instruction": f"{a}와 {b}의 합을 계산합니다.", "input": "", "output": f"{a + b}입니다."})
    for c in (0, 25, 37, 100):
        rows.append({"instruction": f"섭씨 {c}도를 화씨로 변환합니다.", "input": "", "output": f"화씨 {c * 9 / 5 + 32:g}도입니다."})
    # planted translation artifacts and faults
    rows += [
        {"instruction": "다음 문장을 수동태로 다시 작성하세요.", "input": "The chef cooked the soup.",
         "output": "수프는 요리사에 의해 요리되었습니다."},
        {"instruction": "Rewrite the following sentence using a synonym.", "input": "",
         "output": "문장이 주어지지 않았습니다."},
        {"instruction": "주어진 #/ 문장의 어조를 분류하세요.", "input": "오늘 정말 멋진 날이네요!", "output": "긍정"},
        {"instruction": "다음 코드의 오류를 찾으세요. #/", "input": "print('hello'", "output": "닫는 괄호가 빠졌습니다."},
        {"instruction": "트윗을 작성하세요 about 새 카페 개업.", "input": "", "output": "새 카페가 문을 열었어요! 들러 주세요."},
        {"instruction": "주어진 단어로 라임을 만드세요.", "input": "cat", "output": "hat"},
        {"instruction": "광합성이 무엇인지 설명하세요.", "input": "", "output": "식물이 빛으로 양분을 만드는 과정입니다."},
        {"instruction": "광합성이 무엇인지 간단히 설명하세요.", "input": "", "output": "빛으로 당을 만드는 과정입니다."},
        {"instruction": "하늘은 왜 파란가요?", "input": "", "output": "산란."},
        {"instruction": "좋아하는 계절을 묘사하세요.", "input": "", "output": "가을."},
        {"instruction": "프랑스의 수도는 무엇입니까?", "input": "", "output": "파리"},
        {"instruction": "다음 목록을 알파벳 순서로 정렬합니다.", "input": "banana, apple, cherry", "output": "apple, banana, cherry"},
    ]
    rng.shuffle(rows)
    return rows


def _has_batchim(word: str) -> bool:
    ch = word[-1]
    if not ("가" <= ch <= "힣"):
        return False
    return (ord(ch) - 0xAC00) % 28 != 0


# ---------------------------------------------------------------------------
# Korean v1.1 (Knowledge-iN style questions, long ChatGPT-style answers)
# ---------------------------------------------------------------------------
KIN = [
    ("전세", ["전세 계약이 끝나기 전에 이사하면 중개 수수료는 누가 내나요?", "전세 만기 전에 나가면 복비를 제가 내야 하나요?",
             "계약 기간 중간에 이사하면 새 세입자 중개비는 누구 부담인가요?"],
     ["계약 기간이 남아 있는 상태에서 세입자가 먼저 나가는 경우, 새 세입자를 구하는 데 드는 중개 수수료는 관행상 기존 세입자가 부담하는 경우가 많습니다.",
      "다만 이는 법으로 정해진 의무라기보다 집주인과의 합의에 따른 것이므로, 계약서 특약 사항을 먼저 확인하시는 것이 좋습니다.",
      "계약이 만료된 뒤에 나가는 경우라면 새 세입자 중개 수수료는 일반적으로 집주인이 부담합니다.",
      "분쟁을 줄이려면 이사 날짜와 수수료 부담 주체를 문자나 서면으로 남겨 두세요."]),
    ("수면", ["잠이 안 올 때 빨리 잠드는 방법이 있을까요?", "밤에 누워도 한 시간 넘게 잠이 안 와요. 어떻게 하죠?",
             "불면증 때문에 힘든데 생활 습관으로 고칠 수 있나요?"],
     ["잠들기 어려운 날이 이어진다면 먼저 생활 리듬을 점검해 보시는 것이 좋습니다.",
      "매일 같은 시간에 일어나고, 잠자리에 들기 한두 시간 전부터는 스마트폰과 밝은 조명을 줄이는 것이 도움이 됩니다.",
      "오후 늦게 마시는 커피나 에너지 음료는 생각보다 오래 각성 효과를 남기므로 피하시는 편이 좋습니다.",
      "누운 뒤 20분이 지나도 잠이 오지 않으면 잠시 일어나 조용한 활동을 하다가 졸릴 때 다시 눕는 방법도 있습니다.",
      "이런 노력에도 몇 주 이상 불면이 계속된다면 수면 전문 병원에서 상담을 받아 보시기를 권합니다."]),
    ("주식", ["주식 처음 시작하는데 뭐부터 공부해야 하나요?", "주린이인데 주식 공부 순서 좀 알려주세요.",
             "소액으로 주식 투자를 시작하려면 어떤 준비가 필요할까요?"],
     ["주식 투자를 처음 시작하신다면 먼저 증권 계좌 개설과 기본 용어부터 익히시는 것이 좋습니다.",
      "시가총액, 주가수익비율(PER), 배당 같은 지표가 무엇을 뜻하는지 알아야 기업을 비교할 수 있습니다.",
      "처음에는 잃어도 생활에 지장이 없는 소액으로 시작하고, 한 종목에 몰아서 투자하지 않는 것이 중요합니다.",
      "또한 투자 일지를 써서 매수와 매도의 이유를 기록하면 같은 실수를 줄일 수 있습니다.",
      "단기 수익을 약속하는 리딩방이나 유료 추천은 손실 위험이 크니 각별히 주의하시기 바랍니다."]),
    ("파이썬", ["파이썬을 독학하려면 어떤 순서로 공부하면 좋을까요?", "비전공자인데 파이썬 독학 가능할까요?",
              "파이썬 공부를 시작했는데 무엇을 만들어 보면 좋을까요?"],
     ["파이썬은 문법이 비교적 간단해서 비전공자도 독학으로 충분히 시작할 수 있는 언어입니다.",
      "먼저 변수, 자료형, 조건문, 반복문, 함수 같은 기초 문법을 익히고, 짧은 예제를 직접 타이핑해 보시는 것이 좋습니다.",
      "기초를 마친 뒤에는 파일 읽기와 쓰기, 리스트와 딕셔너리 활용처럼 실제로 자주 쓰는 기능을 연습하세요.",
      "작은 프로젝트, 예를 들어 가계부 프로그램이나 웹 페이지에서 날씨 정보를 가져오는 스크립트를 만들어 보면 실력이 빠르게 늡니다.",
      "막히는 부분은 공식 문서와 커뮤니티 질문 게시판을 활용하면 대부분 해결할 수 있습니다."]),
    ("감기", ["감기 걸렸을 때 샤워해도 되나요?", "감기 기운이 있을 때 운동해도 괜찮을까요?",
            "목감기가 오래 가는데 병원에 가야 할까요?"],
     ["가벼운 감기는 대부분 충분한 휴식과 수분 섭취로 1~2주 안에 좋아집니다.",
      "열이 없고 몸이 크게 힘들지 않다면 미지근한 물로 짧게 샤워하는 것은 괜찮지만, 샤워 후에는 몸을 빨리 말리고 따뜻하게 유지하세요.",
      "운동은 증상이 목 위쪽에만 있을 때 가볍게 걷는 정도로 하고, 열이나 근육통이 있을 때는 쉬는 것이 좋습니다.",
      "고열이 사흘 이상 이어지거나 숨이 차고 가슴이 아프다면 단순 감기가 아닐 수 있으니 진료를 받으시기 바랍니다."]),
    ("연말정산", ["연말정산에서 월세도 공제받을 수 있나요?", "월세 세액공제 조건이 어떻게 되나요?",
               "연말정산 때 월세 공제 받으려면 뭘 준비해야 하나요?"],
     ["일정 요건을 갖춘 무주택 근로자라면 연말정산에서 월세 세액공제를 받을 수 있습니다.",
      "일반적으로 총급여 기준, 주택 규모나 기준시가 요건, 그리고 임대차계약서상 주소와 주민등록 주소가 같아야 한다는 조건이 있습니다.",
      "준비 서류로는 임대차계약서 사본과 월세를 이체한 내역이 필요하며, 현금으로 냈다면 이를 증명하기 어려울 수 있습니다.",
      "공제 요건과 한도는 해마다 바뀔 수 있으므로 국세청 안내를 꼭 확인하시기 바랍니다."]),
    ("강아지", ["강아지가 밤마다 짖는데 어떻게 해야 하나요?", "강아지 분리불안 고치는 방법 있나요?",
              "산책을 해도 강아지가 계속 짖어요. 이유가 뭘까요?"],
     ["강아지가 반복해서 짖는 데에는 심심함, 불안, 낯선 소리에 대한 경계 등 여러 이유가 있을 수 있습니다.",
      "먼저 하루 산책 시간과 놀이 시간이 충분한지 점검해 보세요. 에너지가 남으면 밤에 짖는 일이 늘어납니다.",
      "보호자가 나갈 때마다 짖는다면 짧은 외출부터 시작해 혼자 있는 시간을 조금씩 늘리는 연습이 도움이 됩니다.",
      "짖을 때 큰 소리로 혼내기보다는 조용해졌을 때 간식으로 보상하는 방식이 효과적입니다.",
      "행동이 갑자기 바뀌었다면 통증이나 질병이 원인일 수 있으니 동물병원 상담도 고려해 보세요."]),
    ("이력서", ["신입 이력서 자기소개서 어떻게 써야 하나요?", "자소서에 경험이 별로 없는데 뭘 써야 할까요?",
              "이력서 경력란이 비어 있는데 괜찮을까요?"],
     ["신입 지원자의 자기소개서는 화려한 경력보다 지원 직무와 연결되는 경험을 구체적으로 보여주는 것이 중요합니다.",
      "동아리, 아르바이트, 수업 프로젝트처럼 작은 경험이라도 어떤 문제를 맡았고 어떻게 해결했는지 숫자와 함께 적어 보세요.",
      "모든 회사에 같은 글을 내기보다 회사와 직무에 맞게 첫 문단을 고치는 것만으로도 인상이 달라집니다.",
      "제출 전에는 맞춤법과 회사 이름을 반드시 다시 확인하세요."]),
    ("중고차", ["중고차 살 때 꼭 확인해야 할 게 뭐예요?", "중고차 사기 안 당하려면 어떻게 해야 하나요?",
              "중고차 성능점검기록부는 믿을 만한가요?"],
     ["중고차를 살 때는 차량 상태와 서류를 함께 확인하는 것이 가장 중요합니다.",
      "성능점검기록부와 보험 사고 이력을 조회해 사고와 침수 여부를 확인하고, 가능하면 정비소에서 따로 점검을 받아 보세요.",
      "시세보다 지나치게 싼 매물은 허위 매물이거나 숨은 문제가 있을 수 있으니 주의해야 합니다.",
      "계약서에는 차량 상태와 환불 조건을 구체적으로 적고, 잔금은 명의 이전과 동시에 치르는 것이 안전합니다."]),
    ("다이어트", ["다이어트 할 때 저녁을 굶는 게 효과가 있나요?", "살 빼려면 운동이 중요해요 식단이 중요해요?",
              "다이어트 정체기는 어떻게 넘기나요?"],
     ["체중 감량의 기본은 섭취하는 열량보다 쓰는 열량이 조금 더 많은 상태를 꾸준히 유지하는 것입니다.",
      "저녁을 완전히 굶으면 다음 날 폭식으로 이어지기 쉬워 장기적으로는 오히려 불리할 수 있습니다.",
      "단백질과 채소를 충분히 먹고 단 음료와 야식을 줄이는 식단 조절이 가장 큰 효과를 냅니다.",
      "운동은 근육량을 지켜 기초대사량이 떨어지는 것을 막아 주므로 식단과 함께 하는 것이 좋습니다.",
      "정체기는 몸이 적응하는 자연스러운 과정이니 2~3주 정도는 같은 습관을 유지하며 지켜보세요."]),
]

SITUATIONS = [
    "이번에 처음으로 혼자 살게 된 사회초년생입니다.",
    "주변에 물어봐도 다들 말이 달라서 여기에 질문을 남깁니다.",
    "인터넷 검색을 해 봐도 정보가 너무 많아서 오히려 헷갈립니다.",
    "가족들과 의견이 갈려서 정확한 내용을 알고 싶습니다.",
    "몇 달째 고민만 하고 있는데 도무지 결정을 못 하겠어요.",
    "지난주에 비슷한 일을 겪고 나서 갑자기 궁금해졌습니다.",
    "친구가 물어봤는데 저도 제대로 대답을 못 해서 질문드려요.",
]

KIN_SHORT = [("라면 물은 몇 ml 넣어야 해요?", "550ml 정도 넣으시면 됩니다."),
             ("토요일에도 우체국 하나요?", "일부만 엽니다."),
             ("영어로 사과가 뭐예요?", "apple입니다.")]


def _ko_v11(rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    openers = ["좋은 질문입니다. ", "", "질문해 주셔서 감사합니다. ", ""]
    closers = ["도움이 되셨기를 바랍니다.", "상황에 따라 다를 수 있으니 필요하면 전문가와 상담해 보세요.",
               "궁금한 점이 더 있으면 추가로 질문해 주세요.", ""]
    for topic, questions, sents in KIN:
        for q in questions:
            for variant in range(5):
                k = rng.randint(max(2, len(sents) - 2), len(sents))
                body = " ".join(sorted(rng.sample(sents, k), key=sents.index))
                ans = (openers[variant % 4] + body + " " + closers[(variant + len(q)) % 4]).strip()
                qq = q if variant == 0 else SITUATIONS[(variant * 3 + len(q)) % len(SITUATIONS)] + " " + q
                rows.append({"instruction": qq, "output": ans, "topic": topic})
    # planted near-duplicates: the same question with only a trailing plea added
    for topic, questions, sents in KIN[:3]:
        rows.append({"instruction": questions[0].rstrip("?") + "? 급해요ㅠㅠ", "output": " ".join(sents[:2]), "topic": topic})
    for q, a in KIN_SHORT:
        rows.append({"instruction": q, "output": a, "topic": "짧은답"})
    rng.shuffle(rows)
    out = []
    for i, r in enumerate(rows):
        out.append({"instruction": r["instruction"], "output": r["output"],
                    "url": f"https://kin-sample.invalid/open-llm-survey/qna/{i + 1:05d}"})
    return out


# ---------------------------------------------------------------------------
# self-instruct seed tasks (English, written by us)
# ---------------------------------------------------------------------------
SEEDS = [
    ("breakfast_suggestion", "Suggest a quick breakfast for someone who has five minutes.", False,
     [("", "Greek yogurt with a sliced banana and a spoon of oats.")]),
    ("odd_word", "Which word does not belong with the others?", True,
     [("spoon, fork, knife, pillow", "pillow"), ("Mars, Venus, Moon, Jupiter", "Moon")]),
    ("email_subject", "Write a subject line for the email below.", False,
     [("Hi all, the team lunch moves from Thursday to Friday at 12:30 because the room is booked.", "Team lunch moved to Friday 12:30")]),
    ("sentiment_review", "Is the sentiment of this review positive or negative?", True,
     [("The battery died after two days and support never answered.", "Negative"), ("Fast delivery and the colour is exactly as shown.", "Positive")]),
    ("unit_conversion", "Convert the distance to kilometres.", False, [("5 miles", "About 8.05 kilometres.")]),
    ("polite_rewrite", "Rewrite the message so that it sounds more polite.", False,
     [("Send me the report now.", "Could you please send me the report when you have a moment?")]),
    ("fact_or_opinion", "Label the statement as a fact or an opinion.", True,
     [("Water boils at 100 degrees Celsius at sea level.", "Fact"), ("Summer is the best season.", "Opinion")]),
    ("packing_list", "Make a packing list for a two-day hiking trip.", False,
     [("", "Backpack, water bottle, rain jacket, map, snacks, first-aid kit, headlamp, spare socks.")]),
    ("math_word_problem", "Solve the word problem and show the steps.", False,
     [("A book costs 12 dollars and a pen costs 3 dollars. How much do 2 books and 4 pens cost?", "2 x 12 = 24, 4 x 3 = 12, 24 + 12 = 36 dollars.")]),
    ("spam_detection", "Decide whether the message is spam.", True,
     [("You won a free cruise! Click here to claim now.", "Spam"), ("Can we move our call to 3 pm?", "Not spam")]),
    ("explain_to_child", "Explain the idea to a seven-year-old.", False,
     [("gravity", "Gravity is an invisible pull that makes things fall down and keeps us on the ground.")]),
    ("antonym", "Give the opposite of the word.", False, [("generous", "stingy"), ("ancient", "modern")]),
    ("question_generation", "Write a quiz question based on the fact.", False,
     [("The Pacific is the largest ocean.", "Which ocean is the largest on Earth?")]),
    ("grammar_fix", "Correct the grammar in the sentence.", False,
     [("She don't like apples.", "She doesn't like apples.")]),
    ("schedule_conflict", "Find the conflict in the schedule.", False,
     [("9:00 dentist; 9:30 team meeting; the dentist visit takes one hour.", "The dentist visit runs until 10:00 and overlaps the 9:30 meeting.")]),
    ("country_continent", "Name the continent the country is in.", True, [("Kenya", "Africa"), ("Peru", "South America")]),
    ("recipe_scaling", "Double the recipe.", False, [("200 g flour, 1 egg, 100 ml milk", "400 g flour, 2 eggs, 200 ml milk")]),
    ("headline_shorten", "Shorten the headline to at most five words.", False,
     [("City council approves new plan to expand bicycle lanes downtown", "Council expands downtown bike lanes")]),
    ("pros_cons", "List two pros and two cons of the choice.", False,
     [("Buying a used car", "Pros: lower price, slower depreciation. Cons: unknown history, higher repair risk.")]),
    ("animal_sound", "What sound does the animal make?", True, [("cow", "Moo"), ("duck", "Quack")]),
    ("story_opening", "Write the first two sentences of a mystery story.", False,
     [("", "The lighthouse had been dark for thirty years. Tonight, at exactly midnight, its lamp flickered on.")]),
    ("date_difference", "How many days are between the two dates?", False, [("March 1 and March 15", "14 days")]),
    ("tone_detection", "Classify the tone of the sentence as formal or informal.", True,
     [("Hey, what's up?", "Informal"), ("We kindly request your attendance.", "Formal")]),
    ("interview_question", "Suggest an interview question for the role.", False,
     [("barista", "How would you handle a long queue during the morning rush?")]),
    ("prime_check", "Is the number prime?", True, [("17", "Yes"), ("21", "No")]),
    ("acronym_expand", "Expand the acronym.", False, [("CPU", "Central Processing Unit")]),
    ("gift_idea", "Suggest a gift for the person described.", False,
     [("A friend who loves cooking and just moved into a small flat.", "A compact set of good kitchen knives.")]),
    ("sort_words", "Sort the words alphabetically.", False, [("pear, apple, mango", "apple, mango, pear")]),
    ("summarize_dialogue", "Summarize the dialogue in one sentence.", False,
     [("A: Are you coming tonight? B: I can't, I have to finish my essay.", "B declines A's invitation because of an unfinished essay.")]),
    ("rhyme", "Give a word that rhymes with the given word.", False, [("light", "night")]),
    ("time_zone", "What time is it in the second city?", False, [("It is 9:00 in Seoul. City: London (winter).", "0:00 (midnight) in London.")]),
    ("bug_explain", "Explain the bug in the code.", False,
     [("for i in range(10): print(i", "The closing parenthesis of print is missing.")]),
    ("topic_label", "Assign a topic to the news headline: sports, politics, science or business.", True,
     [("Striker scores twice in cup final", "Sports"), ("Telescope spots water on distant planet", "Science")]),
    ("thank_you_note", "Write a short thank-you note.", False,
     [("To a neighbour who watered my plants during my trip.", "Thank you for looking after my plants while I was away - they look greener than ever!")]),
    ("exercise_plan", "Suggest a 15-minute workout without equipment.", False,
     [("", "3 rounds: 10 squats, 10 push-ups, 20 lunges, 30-second plank, 1 minute rest.")]),
    ("metaphor", "Explain the metaphor.", False, [("Time is a thief.", "Time quietly takes moments from us without our noticing.")]),
    ("yes_no_question", "Turn the statement into a yes/no question.", False, [("The train leaves at six.", "Does the train leave at six?")]),
    ("language_identify", "Which language is the sentence written in?", True, [("Guten Morgen", "German"), ("감사합니다", "Korean")]),
    ("priority_order", "Order the tasks by urgency.", False,
     [("pay rent due today; plan holiday; reply to boss asking for report by noon", "1. reply to boss, 2. pay rent, 3. plan holiday")]),
    ("complete_sentence", "Complete the sentence.", False, [("The best way to learn a language is", "to use it every day with real people.")]),
    ("shopping_total", "Compute the total price.", False, [("3 apples at 0.5 each and 2 loaves at 2.25 each", "6.00")]),
    ("synonym_choice", "Pick the synonym of the first word from the options.", True, [("rapid: slow, quick, heavy", "quick")]),
    # planted near-duplicate of an earlier seed
    ("breakfast_idea", "Suggest a quick breakfast for someone who only has five minutes.", False,
     [("", "Toast with peanut butter and an apple.")]),
]


def _seeds() -> list[dict]:
    return [{"id": f"seed_task_{i}", "name": n, "instruction": ins, "instances": [{"input": a, "output": b} for a, b in inst],
             "is_classification": cls} for i, (n, ins, cls, inst) in enumerate(SEEDS)]


# ---------------------------------------------------------------------------
# Dolly-15k style (all 8 categories)
# ---------------------------------------------------------------------------
def _dolly(rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    for name, kind, definition, examples, plus, minus in EN_TOPICS:
        rows.append({"instruction": f"What is {name}?", "context": "",
                     "response": f"{name[0].upper() + name[1:]} is {definition}.", "category": "open_qa"})
        rows.append({"instruction": f"Give me some ideas for teaching a class about {name}.", "context": "",
                     "response": f"Show {examples[0]} and {examples[1]}, ask students to find another example, "
                                 f"and finish with a debate on whether {plus} outweighs that {minus}.",
                     "category": "brainstorming"})
        rows.append({"instruction": f"Write a four-line poem about {name}.", "context": "",
                     "response": f"Think of {examples[0]} at dawn,\nof {examples[1]} when the day is gone;\n"
                                 f"{plus[0].upper() + plus[1:]},\nand still the question carries on.",
                     "category": "creative_writing"})
        rows.append({"instruction": f"Should I care about {name}? Give me a balanced answer.", "context": "",
                     "response": f"It depends on your situation. On the plus side, {plus}. On the other hand, {minus}. "
                                 f"Looking at {examples[2]} can help you decide.", "category": "general_qa"})
    for text, summary in EN_PARAGRAPHS:
        rows.append({"instruction": "Summarize this notice.", "context": text, "response": summary, "category": "summarization"})
        first = text.split(". ")[0]
        rows.append({"instruction": "Based on the passage, what happens first?", "context": text,
                     "response": first.rstrip(".") + ".", "category": "closed_qa"})
        nums = [w.strip(".,") for w in text.split() if any(c.isdigit() for c in w)]
        rows.append({"instruction": "Extract every number mentioned in the text as a comma-separated list.", "context": text,
                     "response": ", ".join(nums) if nums else "There are no numbers in the text.",
                     "category": "information_extraction"})
    for item, label in EN_CLASSIFY:
        rows.append({"instruction": f"Is a {item} a {label} or something else?", "context": "",
                     "response": f"A {item} is a {label}.", "category": "classification"})
    for items, odd in EN_ODD:
        rows.append({"instruction": "Which one of these is not like the others: " + ", ".join(items) + "?", "context": "",
                     "response": odd, "category": "classification"})
    rows.append({"instruction": "What is a budget?", "context": "", "response": "A plan.", "category": "open_qa"})
    rows.append({"instruction": "What is a budget exactly?", "context": "",
                 "response": "A budget is a plan that matches income with spending.", "category": "open_qa"})
    rng.shuffle(rows)
    return rows


# ---------------------------------------------------------------------------
# OASST1 message trees (flat export: one message per line)
# ---------------------------------------------------------------------------
def _oasst(rng: random.Random) -> list[dict]:
    ns = uuid.UUID("6f1b6f0e-5c1a-4a57-9a57-0e55e1a0c0de")
    msgs: list[dict] = []

    def mk(tree: str, parent: str | None, role: str, text: str, lang: str, rank, k: int, day: int) -> str:
        mid = str(uuid.uuid5(ns, f"{tree}/{k}"))
        msgs.append({
            "message_id": mid, "parent_id": parent, "user_id": str(uuid.uuid5(ns, f"user/{rng.randint(0, 40)}")),
            "created_date": f"2023-02-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00.000000+00:00",
            "text": text, "role": role, "lang": lang, "review_count": rng.randint(2, 5),
            "review_result": True, "deleted": False, "rank": rank, "synthetic": False, "model_name": None,
            "detoxify": None, "message_tree_id": tree, "tree_state": "ready_for_export", "emojis": None, "labels": None,
        })
        return mid

    prompts = []
    for name, kind, definition, examples, plus, minus in EN_TOPICS[:16]:
        prompts.append(("en", f"Can you explain {name} to me?",
                        [f"Sure. {name[0].upper() + name[1:]} is {definition}. One example is {examples[0]}.",
                         f"{name[0].upper() + name[1:]} is {definition}; people value it because {plus}.",
                         f"In short: {definition}."],
                        "Does it have any downside?", f"Yes: {minus}. Whether that matters depends on how you use it."))
    for name, definition, example, plus, minus in KO_TOPICS[:14]:
        j = "이" if _has_batchim(name) else "가"
        prompts.append(("ko", f"{name}{j} 뭔지 쉽게 설명해 줄 수 있어?",
                        [f"물론이죠. {name}{'은' if _has_batchim(name) else '는'} {definition}이에요. 예를 들면 {example}이 있어요.",
                         f"{name}{'은' if _has_batchim(name) else '는'} {definition}입니다. {plus}는 점이 장점입니다.",
                         f"간단히 말해 {definition}입니다."],
                        "단점은 없어?", f"있습니다. {minus}는 점을 고려해야 해요."))
    for t, (lang, q, answers, follow, follow_ans) in enumerate(prompts):
        tree = str(uuid.uuid5(ns, f"tree/{t}"))
        day = 1 + t % 27
        root = mk(tree, None, "prompter", q, lang, None, 0, day)
        n_ans = 2 + t % 2
        first = None
        for a in range(n_ans):
            aid = mk(tree, root, "assistant", answers[a], lang, float(a), 1 + a, day)
            first = first or aid
        if t % 3 != 2:
            fid = mk(tree, first, "prompter", follow, lang, 0.0, 10, day)
            mk(tree, fid, "assistant", follow_ans, lang, 0.0, 11, day)
    # a lone prompt with no reply (trees in the real export can stop early)
    lone = str(uuid.uuid5(ns, "tree/lone"))
    mk(lone, None, "prompter", "What is a good name for a grey cat?", "en", None, 0, 28)
    return msgs


def main() -> None:
    SAMPLES.mkdir(exist_ok=True)
    rng = random.Random(20230413)

    def dump_json(name, rows):
        (SAMPLES / name).write_text(json.dumps(rows, ensure_ascii=False, indent=4) + "\n", encoding="utf-8")

    def dump_jsonl(name, rows):
        (SAMPLES / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    files = {
        "alpaca_en_sample.json": (_en_alpaca(rng), dump_json),
        "koalpaca_v1_0_sample.json": (_ko_v10(rng), dump_json),
        "koalpaca_v1_1_sample.jsonl": (_ko_v11(rng), dump_jsonl),
        "self_instruct_seed_sample.jsonl": (_seeds(), dump_jsonl),
        "dolly_sample.jsonl": (_dolly(rng), dump_jsonl),
        "oasst1_sample.jsonl": (_oasst(rng), dump_jsonl),
    }
    for name, (rows, dump) in files.items():
        dump(name, rows)
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
