import { stem } from "./terms.js";

/**
 * What kind of fact a question asks for, and whether a sentence holds such a fact. Pure rules over
 * English wording, no model: "how much" wants a number or an amount, "when" a date, a time or a
 * duration, "who" a role or a person, "where" a place, a portal or an address, "how do I" an
 * instruction, "can I" a permission. Documents state such facts without the question's own words
 * ("What is the hotel limit?" is answered by "reimbursed up to 180 euros per night"), so the words
 * that only name the kind of answer ("limit", "cost", "how long", "contact") count as matched by a
 * fact of that kind.
 */
export type FactKind =
  | "number"
  | "money"
  | "time"
  // Finer kinds of time: by when, how often, for how long.
  | "deadline"
  | "frequency"
  | "duration"
  | "person"
  | "place"
  | "steps"
  | "permission"
  | "definition";

export interface QuestionType {
  /** Kinds of fact that answer the question, most telling first; empty when nothing says. */
  kinds: FactKind[];
  /** Stemmed question terms that only name the kind of answer (see `cueKinds`). */
  cues: ReadonlySet<string>;
}

// Words that name the kind of answer rather than its subject, with the kinds that realise them.
// A document says "up to 180 euros", not "the limit is": the word is matched by the fact.
const CUE_WORDS: Record<string, readonly FactKind[]> = {};
const cue = (kinds: readonly FactKind[], list: string) => {
  for (const w of list.split(/\s+/)) CUE_WORDS[stem(w)] = kinds;
};
cue(["number", "money"], "limit limits maximum max minimum min cap ceiling amount total percentage percent big large");
// Words about money are answered by an amount of money, not by any number.
cue(
  ["money"],
  "cost costs price prices spend spending fee fees budget allowance rate rates expensive cheap worth pay pays",
);
cue(["time", "number"], "long far");
cue(["time"], "soon often frequently deadline due date time quickly fast early late advance ahead duration");
cue(["person"], "contact reach ask responsible charge approve approves approval");
cue(["place"], "location located address go");
cue(["steps"], "procedure process steps step");
cue(["permission"], "allow allowed permitted permit");

/** The kinds of fact that stand for a stemmed question term ("limit" -> number, money); empty for a subject word. */
export function cueKinds(term: string): readonly FactKind[] {
  return CUE_WORDS[term] ?? [];
}

// What the wording of a question asks for. Each pattern is tried on the question in lower case, padded
// with a space at each end.
const ASKS_TIME =
  /\bwhen\b|\bhow (long|soon|often|quickly|fast|early|late|far in advance)\b|\bwhat (time|date|day)\b|\b(deadline|due|until|period|duration)\b|\bhow many (days|weeks|months|hours|minutes|years)\b|\bby when\b/;
const ASKS_DEADLINE =
  /\b(deadline|due|how soon|how quickly|how fast|by when|in advance|ahead|latest|how long do (i|we|you) have)\b/;
const ASKS_FREQUENCY = /\bhow (often|frequently)\b|\bfrequency\b/;
const ASKS_DURATION = /\bhow long\b|\bduration\b/;
const ASKS_NUMBER =
  /\bhow (much|many|big|large|high|far|expensive)\b|\b(limit|limits|maximum|minimum|max|cap|cost|costs|price|spend|fee|fees|budget|allowance|rate|amount|percent|percentage|per diem|number of)\b/;
const ASKS_MONEY =
  /\bhow much\b|\b(cost|costs|price|spend|fee|fees|budget|allowance|rate|pay|paid|salary|salaries|money|expensive|cheap|euros?|dollars?|per diem|reimburs\w*|contribut\w*)\b/;
const ASKS_PERSON = /\bwho(m|se)?\b|\b(contact|reach|responsible|in charge)\b/;
const ASKS_PLACE =
  /\bwhere\b|\b(address|location|located)\b|\bwhich (portal|tool|system|site|website|app|page|channel|office|floor|room)\b/;
const ASKS_HOW = /\bhow\b/;
const HOW_NOT_STEPS = /\bhow\s+(much|many|long|soon|often|far|big|large|high|quickly|fast|early|late|old|expensive)\b/;
const ASKS_STEPS = /\b(procedure|process|steps)\b|\bwhat (should|do|can|must) (i|we|you)\b.*\bdo\b|\bwhat happens\b/;
const ASKS_YES_NO = /^ (is|are|can|could|do|does|did|may|might|must|should|shall|will|would|am|have|has|was|were)\b/;
const ASKS_DEFINITION = /^ what (is|are|does|do|was|were)\b|\bmean(s|ing)?\b|\bstand for\b/;

/** The kinds of fact a question asks for, read from its wording. */
export function questionType(question: string, terms: readonly string[]): QuestionType {
  const q = ` ${question.toLowerCase().replace(/\s+/g, " ").trim()} `;
  const kinds: FactKind[] = [];
  const add = (kind: FactKind, when: boolean) => {
    if (when && !kinds.includes(kind)) kinds.push(kind);
  };
  add("time", ASKS_TIME.test(q));
  // A length is not always a time: "how long must a password be?" wants "14 characters".
  add("number", ASKS_DURATION.test(q));
  add("deadline", ASKS_DEADLINE.test(q));
  add("frequency", ASKS_FREQUENCY.test(q));
  add("duration", ASKS_DURATION.test(q));
  add("number", ASKS_NUMBER.test(q));
  add("money", ASKS_NUMBER.test(q) && ASKS_MONEY.test(q));
  add("person", ASKS_PERSON.test(q));
  add("place", ASKS_PLACE.test(q));
  add("steps", (ASKS_HOW.test(q) && !HOW_NOT_STEPS.test(q)) || ASKS_STEPS.test(q));
  add("permission", ASKS_YES_NO.test(q));
  add("definition", kinds.length === 0 && ASKS_DEFINITION.test(q));
  const cues = terms.some((t) => cueKinds(t).length === 0)
    ? new Set(terms.filter((t) => cueKinds(t).length > 0))
    : new Set<string>();
  return { kinds, cues };
}

const NUMBER_WORD =
  /\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|hundred|thousand|million|half|twice|dozen|single|double)\b/i;
const UNIT =
  "(?:working |business |calendar |consecutive |full |school )?(?:seconds?|minutes?|hours?|days?|nights?|weeks?|months?|quarters?|years?)";
const COUNT = `(?:\\d+(?:[.,]\\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|hundred|several|few)`;
const DURATION = new RegExp(`\\b${COUNT}[\\s-]+${UNIT}\\b|\\b\\d+-(?:day|week|hour|month|year|minute)\\b`, "i");
const MONTH =
  /\b(january|february|march|april|june|july|august|september|october|november|december)\b|\bmay\s+\d|\d(st|nd|rd|th)?\s+may\b|\b(jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?\s+\d/i;
const WEEKDAY = /\b(mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?|weekends?|weekdays?)\b/i;
const CLOCK = /\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(am|pm|a\.m\.|p\.m\.)(?!\w)|\b(noon|midnight|o'?clock)\b/i;
const WHEN_WORDS =
  /\b(within|no later than|in advance|ahead|immediately|at once|same day|next day|first day|start date|annually|yearly|quarterly|monthly|weekly|daily|hourly|(19|20)\d{2}|\d{1,2}(st|nd|rd|th)|every (day|week|month|year|quarter|morning|evening|night|other)|morning|afternoon|evening|overnight|business hours|office hours)\b/i;
const DEADLINE =
  /\b(within|no later than|at the latest|before|by the|by \d|in advance|ahead|at least|until|immediately|at once|deadline|due)\b/i;
const FREQUENCY =
  /\b(every|each (day|week|month|quarter|year)|daily|weekly|monthly|quarterly|annually|yearly|hourly|once|twice|per (day|week|month|quarter|year))\b/i;
const CURRENCY =
  /[€$£¥₹]|\b(euros?|eur|dollars?|usd|pounds?|gbp|chf|francs?|yen|kronor|kroner|krona|rupees?|cents?)\b|\d\s?%|\bper ?cent\b|\bpercent\b/i;
const LIMIT_WORDS = /\b(up to|at most|no more than|not exceed|maximum|minimum|at least|capped)\b/i;
const ROLE =
  /\b(managers?|directors?|head of|heads?|leads?|leaders?|owners?|officers?|supervisors?|presidents?|vp|ceo|cfo|cto|coo|hr|human resources|people team|team|teams|department|desk|helpdesk|service desk|admins?|administrators?|commanders?|liaisons?|coordinators?|representatives?|committee|board|reception|receptionist|colleagues?|buddy|mentors?|finance|legal|support|assistants?|secretary|engineers?|responders?|payroll|controllers?|auditors?|recruiters?|approvers?|chair)\b/i;
const AGENT =
  /\b(approved|signed off|decided|chosen|granted|informed|handled|reviewed|owned|run|managed|paid|set) by\b/i;
const EMAIL = /[\w.+-]+@[\w-]+(\.[\w-]+)+/;
const PHONE = /\+?\d[\d ()-]{6,}\d|\bextension \d+|\bext\.? \d+/i;
// Two capitalised words inside a sentence (not its first word) usually name a person or a product.
const NAME = /(?<=\S\s)[A-Z][a-z]+\s[A-Z][a-z]+\b|\b(Dr|Mr|Mrs|Ms|Prof)\.?\s[A-Z]/;
const URL = /https?:\/\/|\bwww\.|\b[\w-]+\.(com|org|net|io|example|co|de|uk|eu|fr|nl|app|dev)\b/i;
const ADDRESS =
  /\b\d+\s+\w+\s+(street|st|road|rd|avenue|ave|lane|square|boulevard|drive)\b|\b\w+(strasse|straße|weg|platz|gasse)\b/i;
const PLACE_WORDS =
  /\b(floor|building|room|office|campus|reception|desk|portal|website|site|page|intranet|app|channel|tool|folder|drive|wiki|project|system|service|address)\b|#[a-z][\w-]*/i;
const PLACE_PHRASE = /\b(in|at|through|via|on|under|to)\s+(the\s+)?[A-Z][\w-]*/;
// Verbs a sentence opens with when it tells the reader what to do.
const IMPERATIVE_VERBS = new Set(
  (
    "add ask attach avoid book bring call cancel check choose click close collect complete confirm connect contact copy " +
    "create delete describe disconnect do don't download email enable enter fill find follow forward get give go inform " +
    "install keep leave let log make mark never note notify open order page pay place please post press print put raise " +
    "read record register reply report request reset restart return rotate run save select send set share sign start " +
    "stop submit switch take tell try turn type update upload use visit wait wear write"
  ).split(" "),
);
const INSTRUCTION =
  /\byou (must|should|need to|have to|can|may)\b|\bby \w+ing\b|\b(go to|log in|sign in|through the|via the|using the|use the|is requested|are requested|is done|is booked|are booked|are submitted|is submitted)\b|\b(first|then|next|finally)\b/i;
const PERMISSION =
  /\b(yes|no|not|never|may|can|cannot|can't|allowed|permitted|prohibited|forbidden|only|must|required|covered|included|excluded|eligible|reimbursed|unless)\b/i;
const DEFINITION = /\b(is|are|means|mean|covers|refers to|stands for|describes)\b/i;

/** Whether a sentence holds a fact of the kind. */
export function hasFact(sentence: string, kind: FactKind): boolean {
  switch (kind) {
    case "number":
      return /\d/.test(sentence) || NUMBER_WORD.test(sentence) || LIMIT_WORDS.test(sentence);
    case "money":
      return CURRENCY.test(sentence);
    case "time":
      return (
        DURATION.test(sentence) ||
        MONTH.test(sentence) ||
        WEEKDAY.test(sentence) ||
        CLOCK.test(sentence) ||
        WHEN_WORDS.test(sentence)
      );
    case "deadline":
      return DEADLINE.test(sentence);
    case "frequency":
      return FREQUENCY.test(sentence);
    case "duration":
      return DURATION.test(sentence);
    case "person":
      return (
        ROLE.test(sentence) ||
        AGENT.test(sentence) ||
        EMAIL.test(sentence) ||
        PHONE.test(sentence) ||
        NAME.test(sentence)
      );
    case "place":
      return (
        URL.test(sentence) ||
        ADDRESS.test(sentence) ||
        EMAIL.test(sentence) ||
        PLACE_WORDS.test(sentence) ||
        PLACE_PHRASE.test(sentence)
      );
    case "steps":
      return startsWithImperative(sentence) || INSTRUCTION.test(sentence);
    case "permission":
      return PERMISSION.test(sentence);
    case "definition":
      return DEFINITION.test(sentence);
  }
}

/** Whether a sentence opens with a verb telling the reader what to do ("Use the VPN client…"). */
export function startsWithImperative(sentence: string): boolean {
  const first = /^[^\p{L}]*(\p{L}[\p{L}']*)/u.exec(sentence)?.[1]?.toLowerCase();
  return first !== undefined && IMPERATIVE_VERBS.has(first);
}

/** A question as written: it asks, it does not answer, so it is never quoted as an answer. */
export function isQuestion(sentence: string): boolean {
  return /\?["'”)\]]*\s*$/.test(sentence.trim());
}
