"""Intent by act and object, and the frames that make the same words safe.

Every sentence here is written for this test from the policy's categories,
not taken from a corpus. Each act and object has sentences it must hold in
several wordings; each frame has sentences that share the act's words and
must pass.
"""

from __future__ import annotations

import dataclasses

import pytest

from gateway.judge.rules import RuleError, load_rules
from gateway.judge.scan import Scanner

from .conftest import PARENT, STAFF, STUDENT, categories, mail

HOLD = {
    "social_contact": [
        # invitations to occasions of the sender's private life
        "We're having a barbecue in the garden on Sunday, would you and Mia like to come?",
        "My band is playing at the Crown on Friday night, you should come and bring your dad!",
        "If you fancy a pint after the match, the first round's on me.",
        "We would be delighted if you could join us for our daughter's christening next month.",
        "My husband and I are hosting a little Diwali party and we'd love to see you there.",
        # private places
        "You could come over to my house on Saturday and we can finish the model together.",
        "Pop round to ours after tea, the kids would love to meet you.",
        # the sender's home is no school place, whatever the school's frame
        "The Saturday revision session will be at my house this week, so come at 10.",
        "Our catch-up before the exam can be round mine on Sunday afternoon.",
        # lifts and private sessions
        "I'm driving that way anyway, so I can pick you up from yours at 8.",
        "I could give him a lift home after rehearsal on Friday night, it's on my way.",
        "I offer private tuition on Saturday mornings, £20 an hour, if Leo needs a boost.",
        "I'm happy to do one-to-one sessions over the summer holidays at my flat.",
        # meeting away from school
        "It would be lovely to see you outside of school for once.",
        "We should get the boys together one weekend, they'd get on so well.",
        # the sender's own paid teaching, side or services
        "I do a bit of tutoring from home on Sunday afternoons if she wants a boost before the mocks.",
        "Outside school I teach a few students at my studio, the prices are on my website.",
        "Outside of school I run an under-12 side on Saturday mornings and we have two spaces.",
        "I do some babysitting locally, so if it would help with Saturdays just give me a ring.",
        # a personal page, whatever it is about
        "Follow my baking page on Instagram for the recipe, it's called Hughes Bakes.",
        "I'm at the climbing wall most Saturdays from 7, tag along one week and I'll show you the routes.",
        "A few of us are going to see the new Marvel film on Friday night if you want to come along.",
        "I can drop Alfie home after training on Thursdays, it's no trouble.",
        "Does Mia have Snapchat? I'd like to add her to the squad's group.",
        "What name are you under on Instagram? I'd like to see the photos from the show.",
        "Which of your socials do you use most? I'll send you the link there.",
        "My wife and I would love to have you over for dinner some time.",
        # "don't be a stranger" is no e-safety warning
        "Please don't be a stranger - send me a friend request on Facebook once you've left here.",
        # a day out with the sender's own family, the invitation in the next sentence
        "I'm walking the Malverns with my own two kids on Sunday. You and Noah would be welcome to join us.",
        "I'm taking my two to the zoo at half term if Noah would like to come too.",
        # the act in other words, the occasion the sender's own
        "I'm doing a charity quiz at the Red Lion on the 12th, it would be great if you and your husband "
        "could make a team.",
        "We're having a few people round for my 40th, you'd both be very welcome.",
        "I'm running the Birmingham half in May, you should sign up and we can train together on Sundays.",
        "Are you going to the Ed Sheeran gig? I've got a spare ticket if you want it.",
        "Happy to run him home after football on Wednesdays, I go past your road anyway.",
        "Which app do you use most? I'll message you on there instead.",
        "If you fancy extra practice, I coach at Solihull Juniors on Sunday mornings, just turn up.",
    ],
    "social_profile": [
        "I stream on Twitch most nights under the name HughesyPlays, come and say hi.",
    ],
    "unapproved_channel": [
        "I can FaceTime you on Sunday evening to go through it.",
        "Let's carry on this chat on Snapchat, it's quicker.",
        "Send the draft to my gmail and I'll look at it tonight.",
        "I'm going to run a group chat on WhatsApp for revision tips.",
        "Drop me a line on my personal email rather than this one.",
        # a reference to a part of a play is no fiction frame
        "For Act 2, scene 3, record yourself and send me a voice note on WhatsApp.",
        "Honestly it's easier on WhatsApp for quick stuff like this.",
        "Shall we switch to messaging? Email is so slow.",
        # the sender's number pointed to, for talking out of hours
        "My number's in my signature if you ever need to talk outside school hours.",
        "Carry on messaging me on Discord, it's easier than Teams for this.",
        "Hop on a quick video call with me tonight and I'll talk you through it.",
        # an approved platform's name after "not" is what the sender turns from
        "if u get stuck just msg me on my own number 😊 NOT the trip phone tho",
    ],
    "info_request": [
        "What's your Discord name so I can add you to the server?",
        "Could you send me your Xbox gamertag before Friday?",
        "whats ur mobile number? need it for saturday",
        "Please reply with your child's Instagram username and I'll send the photos.",
        "Can you let me have a personal mobile number so I can text you from my own phone?",
        "Is there an email address you use at home, not your school one?",
        "Just reply with the name you use on Facebook and I'll add you to the group.",
        "Whats your number? I'll stick you on the team chat.",
        "Send us your address and I'll drop it through the door on my way home.",
        # asked for in other words
        "Any chance of your own mobile number? The office one is always engaged.",
        "Before you leave for university, leave me a way to reach you that isn't your school email.",
        "Are you home alone after school most days?",
        "Can you jot your mobile number on the back of the form so I can text you the results?",
        "What's the best personal email to send things to over the summer?",
        "Send me your Spotify and I'll share my playlist with you.",
        "Remind me what your TikTok is called, I want to see the dance.",
        "Have you got an insta or snap or anything? Send me your @ and I'll check in at the weekend.",
        # a platform's name as an ordinary word ("teams", "forms") is no mention of it
        "The other teams filmed the final too, so what are your Instagram names? I'd love to see it.",
    ],
    "secrecy": [
        "If anyone asks, just say you were in the library all period.",
        "This never happened, ok?",
        "No need to mention this to your mum, it's only a small thing.",
        "Best not to tell the other students about our sessions.",
        "Delete this once you've read it.",
        # concealment in other words, and as people type in a hurry
        "Your dad doesn't need to know you're using it.",
        "Keep it zipped for now, and hold off showing your dad until I've spoken to them.",
        "dont worry i wont say anything to mrs bell about the other thing, thats our business",
        "I'd be grateful if it didn't get back to the office that I've told you.",
        "Don't make a big thing of it with the others though.",
        "Best your dad doesn't see this one.",
        "Remember, what happens on tour stays on tour!",
        "Keep it schtum and I'll sort the rest.",
        # a promise of confidentiality, which no member of staff may give
        "You can tell me anything and it won't go any further, I promise.",
        "Whatever you say in here stays in this room.",
        # that someone must not come to see it
        "Make sure your dad doesn't read this one.",
        "Probably best this doesn't go any further, including at home.",
        "Let's not make this official for now, I'll sort it quietly.",
        "No need to loop in Mrs Bell, I'll handle it myself.",
        "If it comes up I'll deny I ever said it.",
        "Let's not involve your parents yet, I'll handle it.",
        "It's probably best that nobody at school hears about this.",
    ],
}

PASS = [
    # advice and e-safety: the same words as a warning
    "No safe adult, including school staff, will ever ask you to keep a secret or to move to a private chat.",
    "Never accept a friend request on Snapchat from someone you don't know, and report it to a trusted adult.",
    "Groomers might say things like 'this never happened' or 'don't tell your mum'.",
    # refusals and redirection to the school's platforms
    "I'm afraid I can't give you a lift home, staff are not allowed to drive students.",
    "Sorry, I can't add you on Instagram. Please message me on Teams instead.",
    "Please message me on Teams if you get stuck over the weekend.",
    # the school's own events and arrangements
    "Families are very welcome to join us for the carol service in the main hall on Thursday evening.",
    "Tickets for the PTA quiz night are on ParentPay, and we'd love to see you there.",
    "Revision sessions run on Saturday mornings in the library, supervised by the department.",
    "Never agree to a revision session at a teacher's house; tell your head of year if asked.",
    # the sender's home, with nothing the recipient is asked to do there
    "I'll be marking the mock papers at my house over half term, so replies may be slow.",
    "I can't promise that what you tell me won't go any further: I may need to share it to keep you safe.",
    "Make sure Jack doesn't see this, it's about his surprise award on Friday!",
    "Please make sure your child doesn't look at these apps without checking the settings first.",
    "The author streams on Twitch under the name BookishBen, if your class wants to watch the Q&A.",
    # someone else's play, the family's own lift, a post on the school's platform
    "Theo asked whether there's anywhere he could play on Sundays; the club secretary will know.",
    "We'll be back at school for about 6pm, so please arrange your lift home for then.",
    "If you want to share anything, pop it in the Year 13 channel on Teams.",
    "I'll drop them off at reception tomorrow morning.",
    # e-safety questions about a child's own accounts, and the school's platforms
    "Is your Instagram account private? If not, please change your privacy settings tonight.",
    "Which of your socials have location sharing switched on? Check them with a parent this weekend.",
    "What name do you use on Google Classroom? It should be your full school name.",
    "Is there another way to reach you if we can't get through on the number we have on file?",
    "Any chance of the signed consent form by Friday?",
    "The school will make this official once the governors have agreed the new uniform.",
    "We will inform your dad of the detention by letter.",
    "Please switch to the text we studied last week and compare the two openings.",
    "We'd love to have you over to the school for the Year 7 welcome evening.",
    "Please collect your child from the main gate at 9pm; the minibus brings the team back.",
    # reported speech and fiction
    "In the play, the villain says 'keep this between us' to the girl, and the audience must feel uneasy.",
    # ordinary requests a role needs
    "Please check your emergency contact numbers are up to date on the Arbor app.",
    "Let me know if you have any questions about the trip.",
    # surprises
    "Please keep the leaving card a surprise until Friday!",
    # a request to connect, declined in the next sentence
    "I noticed you sent a follow request to my personal Instagram. I've declined it, as staff aren't allowed "
    "to be connected with students on social media.",
    # a morning at the school's own event is no evening of the sender's
    "You're very welcome to come and watch from the pavilion from 9.30am.",
    # a scene as fiction
    "In the scene where Eva texts him, she writes 'send me a pic on WhatsApp' and he ignores it.",
    # what a stranger asked of a child, reported to the parent
    "Thank you for telling us that someone in a game chat told her to keep it a secret.",
    # the school's own platform
    "If you're stuck on a question, DM me on Teams and I'll come over.",
    # making something in a sentence that names a product with a platform's word
    "Stations on the night: Snap Circuits in S2, Make a rocket in S4, Slime science in S5.",
    # one negation over both verbs: keeping the evidence
    "Please don't reply to the account or delete the messages, as the police may need them.",
    # the school's own place of support, and home, in one sentence
    "I reminded him that he can always come to Student Support at lunch, and that at home you are the "
    "best person to talk to.",
    # the same acts on the school's business, platforms and events
    "We can discuss it at parents' evening on Thursday.",
    "If you want it, the spare revision guide is in the library.",
    "You'd both be very welcome at the Year 7 welcome evening in the main hall.",
    "Please don't video call staff; use the Teams chat instead.",
    "Jump on the call at 10 using the Teams link in your calendar.",
    "We can train together in the sports hall at lunch on Tuesdays; it's the school's running club.",
    "It's best that nobody shares their password, even with friends.",
    "Which app do you use to revise? Seneca and Quizlet are both good, and free.",
    # the family's own lift
    "Your mum can give you a lift home after the concert, or you can get the late bus.",
    # "what's" is no one's: "what's the best number" asks for no one's number
    "What's the best number for the office to reach you on during the trip? Please add it to the consent form.",
    "Can you jot your candidate number on the front of the paper?",
    "Has Leo got a phone with him on the trip? Please remind him that phones stay in bags during visits.",
    # the asker sent to the school, a refusal on Discord, the school's Teams
    "Collect it from the prep room on Monday. If your parents ask, they can ring the school office.",
    "We can't run anything on Discord, that's school rules, but the club can chat on the school Teams.",
    "Please don't send me a friend request on Facebook; staff can't accept them.",
    "If you fancy coming to the open morning, I'll be there on Saturday to show you the labs.",
    "If you fancy extra practice, I coach the school's Saturday club in the sports hall.",
]


@pytest.mark.parametrize(
    ("category", "sentence"),
    [(c, s) for c, sentences in HOLD.items() for s in sentences],
)
def test_an_act_on_a_forbidden_object_is_held(scanner, category, sentence):
    r = scanner.scan(mail(f"Hi,\n\n{sentence}\n\nMr Teacher", to=(STUDENT,)))
    assert r.verdict == "quarantine", sentence
    assert category in categories(r), (sentence, [(f.rule, f.evidence) for f in r.findings])


@pytest.mark.parametrize("sentence", PASS)
def test_a_frame_makes_the_same_words_safe(scanner, sentence):
    r = scanner.scan(mail(f"Hi,\n\n{sentence}\n\nMr Teacher", to=(STUDENT,)))
    assert r.verdict == "pass", (sentence, [(f.rule, f.evidence) for f in r.findings])


def test_a_request_only_in_the_subject_is_read(scanner):
    r = scanner.scan(mail("need it for sat", subject="whats ur snapchat?", to=(STUDENT,)))
    assert "info_request" in categories(r)


# -- the rule language: a shared lexicon, objects in the sentence, paragraph frames --

RULE = """
[[rule]]
id = "r"
category = "social_contact"
clause = "Employees should not seek to establish social contact."
detector = "phrases"
patterns = ["{act}"]
{extra}
"""


def write_rules(
    tmp_path, extra: str, lexicon: str = 'lexicon = true\n[lists]\nact = ["come round"]\n'
):
    (tmp_path / "00-lex.toml").write_text(lexicon)
    (tmp_path / "10-r.toml").write_text(RULE.replace("{extra}", extra))
    return load_rules([tmp_path])


def test_a_list_is_shared_by_every_rule_file(tmp_path):
    rules = write_rules(tmp_path, "")
    assert rules.by_id("r").patterns[0].search("Do come round on Sunday")
    assert rules.lists["act"] == ("come round",)


def test_a_list_defined_twice_is_an_error(tmp_path):
    (tmp_path / "20-dup.toml").write_text('lexicon = true\n[lists]\nact = ["x"]\n')
    with pytest.raises(RuleError, match="already defined"):
        write_rules(tmp_path, "")


def test_a_file_of_lists_alone_must_say_it_is_a_lexicon(tmp_path):
    with pytest.raises(RuleError, match="has no rules"):
        write_rules(tmp_path, "", lexicon='[lists]\nact = ["come round"]\n')


@pytest.fixture
def scanner_for(config):
    def make(tmp_path, extra):
        return Scanner(dataclasses.replace(config, rules=write_rules(tmp_path, extra)))

    return make


def test_with_needs_the_object_in_the_same_sentence(scanner_for, tmp_path):
    s = scanner_for(tmp_path, 'with = ["my house"]')
    assert s.scan(mail("Come round to my house on Sunday.", to=(STUDENT,))).verdict == "quarantine"
    assert s.scan(mail("Come round at four. My house is red.", to=(STUDENT,))).verdict == "pass"


def test_unless_paragraph_looks_at_the_whole_paragraph(scanner_for, tmp_path):
    s = scanner_for(tmp_path, 'unless_paragraph = ["main hall"]')
    body = "The concert is in the main hall. Come round to the stage door after."
    assert s.scan(mail(body, to=(STUDENT,))).verdict == "pass"
    body = "The concert is in the main hall.\n\nCome round to mine after."
    assert s.scan(mail(body, to=(STUDENT,))).verdict == "quarantine"


# -- frames wider than a sentence: scripts and quoted examples -----------------------

SCRIPT = (
    "BLUE HOUR - Scene 3\nA bus shelter. Night.\n"
    "DANNY: You're more grown-up than the others.\nKAYLA: I guess.\n"
    "DANNY: Take my number. 07700 900999. Text me when your mum's gone to bed.\n"
    "DANNY: Then delete it after. Don't tell her about tonight.\n"
)


def test_a_characters_lines_in_a_script_are_the_characters(scanner):
    raw = mail(
        "Attached is scene 3 for Thursday; please be off-book.",
        to=(STUDENT,),
        attachments=[("scene3.txt", "text", "plain", SCRIPT.encode())],
    )
    assert scanner.scan(raw).verdict == "pass"
    # The same words as the sender's own, without speakers, are held.
    own = "Take my number. 07700 900999. Text me when your mum's gone to bed. Don't tell her about tonight."
    r = scanner.scan(mail(own, to=(STUDENT,)))
    assert {"personal_phone", "unapproved_channel", "secrecy"} <= categories(r)


def test_a_script_with_speakers_written_in_title_case_is_the_characters(scanner):
    script = SCRIPT.replace("DANNY:", "Danny:").replace("KAYLA:", "Kayla:")
    raw = mail(
        "Attached is scene 3 for Thursday; please be off-book.",
        to=(STUDENT,),
        attachments=[("scene3.txt", "text", "plain", script.encode())],
    )
    r = scanner.scan(raw)
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


def test_field_labels_said_twice_are_no_speakers():
    from gateway.judge.frames import script_line

    card = "Name: Jo Hale\nMobile: 07700 900999\nName: Sam Hale\nMobile: 07700 900998\n"
    assert not script_line(card, card.index("07700"))
    dialogue = "Jo: Hello.\nSam: Hi.\nJo: Text me on 07700 900999.\n"
    assert script_line(dialogue, dialogue.index("07700"))


@pytest.mark.parametrize(
    "card",
    [
        # field labels, each once: a contact card, not a script
        "Name: Mr J Hale\nMobile: 07700 900999\nEmail: jhale.home@gmail.com\nNote: text me any time",
        # one person's lines, labelled the same each time, are no dialogue
        "Jo: text me on 07700 900999\nJo: or WhatsApp me\nJo: I'll be up late",
    ],
)
def test_labelled_lines_that_are_no_dialogue_are_the_senders(scanner, card):
    assert scanner.scan(mail(card, to=(STUDENT,))).verdict == "quarantine"


def test_a_quoted_example_after_an_introduction_is_a_warning(scanner):
    body = (
        "These are the kinds of messages groomers send, and that we teach students to recognise:\n\n"
        '"Add me on Snapchat, it\'s more private."\n'
        '"Delete this chat after you\'ve read it."\n'
        '"Don\'t tell your mum and dad we talk."\n'
    )
    r = scanner.scan(mail(body, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]
    # Unquoted, the same lines are the sender's.
    unquoted = "Add me on Snapchat, it's more private.\nDelete this chat after you've read it.\n"
    assert scanner.scan(mail(unquoted, to=(STUDENT,))).verdict == "quarantine"


def test_a_quoted_example_wrapped_over_lines_is_still_the_example(scanner):
    """A quoted message runs over the lines of its paragraph; the introduction above
    ("a scam message") makes all of it an example, and the same words unquoted hold."""
    quoted = (
        "Annotate the text below for persuasive techniques.\n\n"
        "TEXT A (a scam message)\n"
        "\"Hi Mum, it's me, I've dropped my phone and this is my new\n"
        "number. Can you WhatsApp me back on here asap? I need to pay a\n"
        "bill today. Don't tell Dad, he'll only worry x\"\n\nMs Nowak"
    )
    assert scanner.scan(mail(quoted, to=(STUDENT,))).verdict == "pass"
    unquoted = quoted.replace('"', "").replace("TEXT A (a scam message)", "From me")
    assert scanner.scan(mail(unquoted, to=(STUDENT,))).verdict == "quarantine"


def test_a_quotation_without_an_introduction_still_counts(scanner):
    body = 'If anyone asks where you were, just say "I was in the library".'
    assert "secrecy" in categories(scanner.scan(mail(body, to=(STUDENT,))))


def test_a_postscript_after_the_signature_is_the_senders_new_text(scanner):
    body = (
        "Ruby has a place in the intervention group.\n\nKind regards,\nMs L Chen\nMaths Department\n\n"
        "P.S. If it's urgent my mobile is 07700 900312 - happy to take a call.\n"
    )
    r = scanner.scan(mail(body))
    assert {"personal_phone", "unapproved_channel"} <= categories(r)


def test_a_form_that_asks_for_a_students_number_or_handle_is_a_request(scanner):
    form = (
        "SCIENCE CLUB REGISTRATION\n1. Student name: __________\n"
        "2. Student's personal mobile number: __________\n3. Snapchat username: __________\n"
    )
    raw = mail(
        "Please fill in the attached form.",
        to=(STUDENT,),
        attachments=[("form.txt", "text", "plain", form.encode())],
    )
    assert "info_request" in categories(scanner.scan(raw))
    # A form for the parent's own contact details is the school's business.
    ok = "CONTACT FORM\nParent/carer mobile: __________\nEmergency contact number: __________\n"
    raw = mail("Please fill in the form.", attachments=[("f.txt", "text", "plain", ok.encode())])
    assert scanner.scan(raw).verdict == "pass"


def test_a_list_needed_by_a_pattern_is_found_at_its_top_level():
    from gateway.judge.rules import required_list

    assert required_list("{conceal}") == (("conceal",), True)
    assert required_list("my (?:own )?{platform}") == (("platform",), False)
    assert required_list("(?:a|b) ~2 {handle}") == (("handle",), False)
    assert required_list("your ~2 (?:{handle}|{detail})") == (("handle", "detail"), False)
    assert required_list("your (?:{handle}|{detail})? x") is None
    # An alternation at the top, or an optional list, needs no one list.
    assert required_list("a|{x}") is None
    assert required_list("{x}? y") is None
    assert required_list("(?:{x}|y) z") is None


def test_a_platform_the_school_approves_is_approved_everywhere(tmp_path):
    from gateway.config import load_config

    from .conftest import CONFIG, example_config

    body = "Join the parents' group: https://chat.whatsapp.com/AbCdEf123 or message me on WhatsApp."
    default = Scanner(load_config(CONFIG)).scan(mail(body))
    assert {"unapproved_channel"} <= categories(default)
    text = CONFIG.read_text().replace(
        '"Forms", "OneDrive", "Bookings",', '"Forms", "OneDrive", "Bookings", "WhatsApp",'
    )
    assert "WhatsApp" in text
    approving = Scanner(load_config(example_config(tmp_path, text)))
    r = approving.scan(mail(body))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


@pytest.mark.parametrize(
    "sentence",
    [
        "Bell me tonight on 07700 900261 and I'll run you through it.",
        "If you can't make it give us a buzz on 07700.900.338 beforehand.",
    ],
)
def test_an_invitation_to_ring_a_personal_number_is_an_unapproved_channel(scanner, sentence):
    r = scanner.scan(mail(f"Hi,\n\n{sentence}\n\nMr Teacher", to=(STUDENT,)))
    assert {"personal_phone", "unapproved_channel"} <= categories(r), r.findings


# -- concealment in other words ---------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Don't go telling the others about our chats.",
        "Wipe these messages afterwards please.",
        "Nobody else needs to know I helped you with this.",
        "I'd rather the other staff didn't hear about it.",
        "Can you not show this email to anyone?",
        "What happens on the trip stays on the trip.",
        "You can trust me not to say anything to your mum.",
        "Tell them you got a lift from a friend, not me.",
    ],
)
def test_concealment_without_the_word_secret_is_held(scanner, sentence):
    assert "secrecy" in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "Please delete the email I sent earlier, it had the wrong date.",
        "If you are not the intended recipient, please delete this email and notify the sender.",
        "Please clear the messages from the class whiteboard before you leave.",
        "Delete these notes once the exam is over - you won't need them.",
        "I'd rather you didn't see the film before we study the book.",
        "Please tell your form tutor, not me, if you lose your planner.",
        "Nobody needs to know your password, not even your friends.",
    ],
)
def test_housekeeping_and_advice_in_the_same_words_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


# -- invitations, whereabouts and texts in everyday words ---------------------------


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        (
            "I'm having a few people round for a barbecue on Saturday, you'd be very welcome.",
            "social_contact",
        ),
        ("Let me take you out for a meal to celebrate your results.", "social_contact"),
        ("We could game together online tonight, I'll send you an invite.", "social_contact"),
        ("Can you send me a photo of yourself in your kit?", "info_request"),
        ("Where will you be on Saturday afternoon?", "info_request"),
        ("Which bus stop do you get off at?", "info_request"),
        ("Are your parents home this weekend?", "info_request"),
        ("Pop me a text when you're home safe.", "unapproved_channel"),
        ("Best to text rather than email me - quicker.", "unapproved_channel"),
    ],
)
def test_everyday_invitations_and_requests_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "Which bus stop do you use for the school bus? We need it for the transport form.",
        "Are your parents home this evening? I'd like to ring them about your report.",
        "Where are you going to be after school on Thursday? Your detention is in room 12.",
        "Please send me a photo of your art homework.",
        "You'd be very welcome to join the PTA meeting in the library on Tuesday.",
        "The school will text you if the coach is late.",
        "It is better to text the office number than ring during lessons.",
    ],
)
def test_the_schools_own_reasons_in_the_same_words_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


# -- frames that are not: what the sentence turns away from, what it only thinks ------


def test_a_school_platform_the_sender_moves_away_from_is_no_frame(scanner):
    away = "Better to move this somewhere less formal than school email - I'm on Telegram, message me there."
    assert "unapproved_channel" in categories(scanner.scan(mail(away, to=(STUDENT,))))
    onto = "Please keep this on school email rather than Telegram."
    assert scanner.scan(mail(onto, to=(STUDENT,))).verdict == "pass"


def test_what_others_might_think_is_no_report_of_their_words(scanner):
    body = "Probably best not to mention it to your parents, they might think it's a bit odd."
    assert "secrecy" in categories(scanner.scan(mail(body, to=(STUDENT,))))
    warning = "Groomers might say 'best not to mention it to your parents'."
    assert scanner.scan(mail(warning, to=(STUDENT,))).verdict == "pass"


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        ("P.S. Keep Thursday's chat to yourself, yeah? Not everyone needs to know.", "secrecy"),
        ("Please don't mention it to the other parents or the school.", "secrecy"),
        ("No need to trouble your mum and dad with this one.", "secrecy"),
        ("Whereabouts do you live? I'm passing your way and could drop them in.", "info_request"),
        ("I'm on most nights after 9. Jump in a squad with us some time.", "social_contact"),
        ("We could go through the paper on Saturday morning at Caffè Nero.", "social_contact"),
    ],
)
def test_more_everyday_words_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


def test_a_book_title_in_quotation_marks_is_no_concealment(scanner):
    body = 'Read the extract from "Just Between Us" (the class novel) and answer the questions.'
    assert scanner.scan(mail(body, to=(STUDENT,))).verdict == "pass"


def test_advice_on_making_ones_own_profile_is_no_invitation(scanner):
    body = (
        "In the careers workshop we'll look at how to set up a LinkedIn profile (you must be 16+)."
    )
    assert scanner.scan(mail(body, to=(STUDENT,))).verdict == "pass"


def test_a_calendar_invitation_to_the_teachers_home_is_an_invitation(scanner):
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
        "DTSTART:20261212T180000Z\r\nSUMMARY:Pizza & films at Mr Grant's\r\n"
        "LOCATION:22 Larch Close\\, Shirley\r\nDESCRIPTION:Bring a sleeping bag if you want to stay over!\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    raw = mail(
        "See the invite attached.",
        to=(STUDENT,),
        attachments=[("invite.ics", "text", "calendar", ics.encode())],
    )
    assert "social_contact" in categories(scanner.scan(raw))
    school = (
        ics.replace("Pizza & films at Mr Grant's", "Year 9 parents' evening")
        .replace("LOCATION:22 Larch Close\\, Shirley", "LOCATION:Main hall")
        .replace("Bring a sleeping bag if you want to stay over!", "Appointments on ParentPay.")
    )
    raw = mail(
        "See the invite attached.",
        to=(STUDENT,),
        attachments=[("invite.ics", "text", "calendar", school.encode())],
    )
    assert scanner.scan(raw).verdict == "pass"


# -- off the school's channels without naming where ---------------------------------


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        ("This is probably easier if we chat elsewhere rather than on here.", "unapproved_channel"),
        (
            "School email's a bit formal for this sort of thing - you know where to find me ;)",
            "unapproved_channel",
        ),
        ("I'm sure you've still got my number from the summer.", "unapproved_channel"),
        (
            "I'd prefer we moved to Signal rather than school email. I'm on there under my usual number.",
            "unapproved_channel",
        ),
        ("It's more private and nothing goes through the school system.", "secrecy"),
        (
            "Further to parents' evening - I do private tutoring in the evenings, £30 an hour at mine.",
            "social_contact",
        ),
    ],
)
def test_moving_off_the_schools_channels_is_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "If you have any questions, you know where to find me - I'm in room 14 most lunchtimes.",
        "Teams is a bit formal for this but it's what we have to use, so please post there.",
        "Nothing goes through the school system until the form is signed, so please return it.",
        "We can talk elsewhere in school if the classroom is too noisy - the library is free.",
        "We're moving to Google Classroom for homework from next week.",
        "No adult who works with you - including school staff or coaches - should ask you to chat on Snapchat.",
        'Look closely at these lines:\n\n  "Don\'t tell your mum about our little trips."\n  "You can always text me."',
    ],
)
def test_the_schools_own_channels_and_lessons_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


# -- drift without keywords -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        (
            "I've put it in your locker with a couple of extra packs. Don't go telling everyone where they came from.",
            "secrecy",
        ),
        (
            "If you want notes over half term my DMs are open - same name as on the cast list ;)",
            "unapproved_channel",
        ),
        (
            "Pop in for a cuppa after the match next week - Jan always does bacon sandwiches.",
            "social_contact",
        ),
        (
            "If Saturday is difficult, I'm usually in the cafe by Shirley library from about 11. You'd be very welcome to come and sit.",
            "social_contact",
        ),
        ("I'd rather your mum didn't read our emails, she might get the wrong idea.", "secrecy"),
        (
            "Teams is a bit public for this sort of thing so just drop me a line on the usual.",
            "unapproved_channel",
        ),
        (
            "Teams keeps kicking people out of the call so I'm moving our revision channel to Telegram.",
            "unapproved_channel",
        ),
        (
            "If you fancy it, come and help me at my stall on Saturday at the farmers market.",
            "social_contact",
        ),
    ],
)
def test_drift_in_everyday_words_is_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "What we talk about stays between us - unless I'm worried about your safety, and then I have to pass it on.",
        "As I explained, I can't keep what you told me a secret, because it's about your safety.",
        "CARD 1: An older gamer says: add me on snap, we can chat privately. Discuss what is wrong with this.",
        "New book in her bag, pls sign the record on ClassCharts when youve read together.",
        "If you want to keep in touch with the sixth form after you leave, follow the official Instagram, @heartofenglandschool.",
        "The bus will run on the usual route tomorrow.",
        "Our DMs are open on the school's official Instagram for questions about the open evening.",
        "Please pop in to the office to collect the permission slip.",
        "Teams is down this morning, so please use school email until it is back.",
    ],
)
def test_proper_confidentiality_and_school_business_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


# -- fair play: answers, endings and papers kept to oneself ----------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Please keep the content of the paper confidential - don't share it with anyone until all the sittings have finished.",
        "Learn your lines, and remember: keep the twist ending a secret from your friends in the audience!",
        "Please don't tell anyone the answers to the practice round!",
        "I went to Birmingham with my family and came back with a cold! We'll catch up on the composition in Thursday's lesson.",
    ],
)
def test_fair_play_and_lessons_are_no_secrecy_or_invitation(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


def test_a_grade_told_early_is_still_secrecy(scanner):
    body = "I wasn't meant to say anything until everyone gets their grades, so please don't tell the others."
    assert "secrecy" in categories(scanner.scan(mail(body, to=(STUDENT,))))


def test_saying_school_email_is_monitored_to_keep_it_professional_is_no_secrecy(scanner):
    proper = "School email is monitored, so please keep messages professional."
    assert scanner.scan(mail(proper, to=(STUDENT,))).verdict == "pass"
    evasive = "School emails get monitored, so text me instead."
    assert scanner.scan(mail(evasive, to=(STUDENT,))).verdict == "quarantine"


# -- a fifth blind set's kinds -----------------------------------------------------------


def test_a_list_item_takes_the_frame_of_the_line_that_introduces_it(scanner):
    advice = (
        "Someone trying to groom a young person online will often:\n"
        "- message you on Snapchat, then ask to move to WhatsApp;\n"
        "- ask for photos or your address.\n"
    )
    assert scanner.scan(mail(advice, to=(STUDENT,))).verdict == "pass"
    own = "A few things before the trip:\n- message me on Snapchat, then we can move to WhatsApp;\n"
    assert "unapproved_channel" in categories(scanner.scan(mail(own, to=(STUDENT,))))


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        (
            "If you ever want a running buddy I'm round Brueton Park most Sunday mornings from about 8",
            "social_contact",
        ),
        (
            "Is your mum still on the same number? Send it over and I'll sort the lift times with her directly.",
            "info_request",
        ),
    ],
)
def test_fifth_set_kinds_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


def test_a_spreadsheet_header_asking_for_handles_over_empty_rows_is_a_form(scanner):
    form = b"Name,Tutor group,Your mobile number,Snapchat or Instagram handle\n,,,\n,,,\n"
    raw = mail(
        "Please fill in the attached.",
        to=(STUDENT,),
        attachments=[("cast.csv", "text", "csv", form)],
    )
    assert "info_request" in categories(scanner.scan(raw))


def test_scam_lines_set_as_examples_are_a_lesson(scanner):
    body = (
        "For Wednesday, read the three examples below and identify the technique in each.\n\n"
        '1. "Hi, it\'s IT support - reply with your password and keep this quiet."\n'
        '2. "Your parcel could not be delivered. Text YES to 07700 900000 to rebook."\n'
    )
    r = scanner.scan(mail(body, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


# -- a sixth blind set's kinds -----------------------------------------------------------


def test_speakers_named_in_quotation_marks_are_a_scripts_characters(scanner):
    script = SCRIPT.replace("DANNY:", "'DANNY':").replace("KAYLA:", "'KAYLA':")
    raw = mail(
        "Attached is scene 3 for Thursday; please be off-book.",
        to=(STUDENT,),
        attachments=[("scene3.txt", "text", "plain", script.encode())],
    )
    r = scanner.scan(raw)
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        (
            "It might be easier if we met for a coffee away from school, just the two of us.",
            "social_contact",
        ),
        ("Perhaps we could grab a drink one evening after work?", "social_contact"),
        (
            "I'm posting the team news on my own page now, search Osei Football on Facebook.",
            "social_profile",
        ),
        (
            "I can't accept requests on my main account, but I've got a private one, @jf_backstage, request that one.",
            "social_profile",
        ),
    ],
)
def test_sixth_set_kinds_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "Students must not give staff their own phone numbers, and staff will never ask for them.",
        "Remember you should never share your Snapchat or your mobile number with anyone you meet online.",
        "It would be easier if we met in the library at lunch to go through the coursework.",
    ],
)
def test_rules_stated_and_meetings_at_school_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


def test_a_reply_subject_is_the_words_of_the_message_replied_to(scanner):
    body = (
        "I can't promise to keep everything secret, but I'm here to help. Come and see me at break.\n\n"
        "Mrs Okafor\n\n> can i tell u something but u have to keep it secret"
    )
    raw = mail(body, to=(STUDENT,), subject="Re: can you keep this secret")
    assert scanner.scan(raw).verdict == "pass"
    # The sender's own subject, or a reply quoting no one, is the sender's words.
    for subject in ("can you keep this secret", "Re: can you keep this secret"):
        own = mail("Come and see me at break.", to=(STUDENT,), subject=subject)
        assert "secrecy" in categories(scanner.scan(own)), subject


def test_a_detail_in_a_reply_subject_the_quote_never_gave_is_the_senders(scanner):
    quote = "\n\nOn Tue, 14 Oct 2025 at 19:45, Jo Parent <parent.one@gmail.com> wrote:\n> "
    thanks = "Thank you, Maya is very welcome at Science Club on Thursdays.\n\nMr Price"
    added = mail(
        thanks + quote + "Can Maya join the club?",
        to=(PARENT,),
        subject="Re: Science club - text me on 07700 900461 if easier",
    )
    assert "personal_phone" in categories(scanner.scan(added))
    # The parent's own number, given in their message, is theirs in the subject too.
    theirs = mail(
        "Thank you, I have updated Maya's record.\n\nMr Price"
        + quote
        + "My new mobile is 07700 900461.",
        to=(PARENT,),
        subject="Re: new mobile 07700 900461",
    )
    assert scanner.scan(theirs).verdict == "pass"


def test_a_reply_subject_is_checked_against_the_subject_the_quote_shows(scanner):
    block = "\n\nFrom: Pupil One <pupil.one@students.heartofengland.example>\nSent: 3 March 2026 17:02\n"
    body = (
        "Come and see me at break.\n\nMrs Okafor" + block + "Subject: {}\n\ncan i tell u something"
    )
    same = mail(
        body.format("can you keep this secret"),
        to=(STUDENT,),
        subject="RE: can you keep this secret",
    )
    assert scanner.scan(same).verdict == "pass"
    edited = mail(
        body.format("homework"), to=(STUDENT,), subject="RE: homework - can you keep this secret"
    )
    assert "secrecy" in categories(scanner.scan(edited))


def test_the_senders_words_flattened_inside_a_quote_still_count(scanner):
    html = (
        "<p>See you tomorrow in period 3.</p><p>Miss R</p>"
        f"<p>On Sun, 9 Nov 2025 at 18:20, Leah Wright &lt;{STUDENT}&gt; wrote:</p>"
        "<blockquote>i sent u a request miss<br><br>"
        f"On Sun, 9 Nov 2025 at 17:02, Tess Teacher &lt;{STAFF}&gt; wrote:<br>"
        "You should add me on insta, tess_bakes_x, I post all my baking there</blockquote>"
    )
    r = scanner.scan(mail("See you tomorrow.", to=(STUDENT,), html=html))
    assert "social_profile" in categories(r), r.findings
    # The student's words in the same quote stay the student's.
    student = html.replace(f"Tess Teacher &lt;{STAFF}&gt;", f"Leah Wright &lt;{STUDENT}&gt;")
    assert scanner.scan(mail("See you tomorrow.", to=(STUDENT,), html=student)).verdict == "pass"


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        ("Send me a Snapchat instead, it vanishes so nobody else will see it.", "secrecy"),
        ("You can email me on my other account. Nobody else sees that one.", "secrecy"),
        ("Rather than email, just message me on Teams - no wait, Teams gets checked.", "secrecy"),
        (
            "Message me on WhatsApp, the school system reads everything and I'd rather not have the exams office on my back.",
            "secrecy",
        ),
        (
            "I tutor A level privately, £35/hr, if you'd like a boost before the summer.",
            "social_contact",
        ),
        (
            "Outside of school I run a private academy on Sunday mornings and I'd love to have him along.",
            "social_contact",
        ),
        ("What's the best number to call you on?", "info_request"),
        ("That video is class, send it me on TikTok and I'll repost it.", "unapproved_channel"),
        ("Give me a ring or find me on Facebook, Pete Osei Coaching.", "social_profile"),
    ],
)
def test_more_of_the_sixth_sets_kinds_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "Snapchat messages disappear, which is why people who want to hide things use it - tell an adult.",
        "Our school netball club runs extra sessions on Tuesdays at 3.30pm in the sports hall.",
        "The exam board's website is checked every year, so make sure you have the latest specification.",
        "Look up the Science Museum on Instagram for their livestream - it's a great resource.",
        "Which is the best time to call you about the review?",
        "Tag me in the Teams assignment when you have submitted it.",
    ],
)
def test_the_same_words_in_school_business_and_advice_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


def test_a_disclosed_number_to_ring_by_name_is_an_unapproved_channel(scanner):
    sheet = "Any problems on the night, ring Simon on 07700 900562.\nWhatsApp is best, evenings."
    raw = mail(
        "Details attached.",
        sender="Simon Grant <s.grant@heartofengland.example>",
        attachments=[("concert.txt", "text", "plain", sheet.encode())],
    )
    assert {"personal_phone", "unapproved_channel"} <= categories(scanner.scan(raw))
    # The school's own line, named the same way, is no personal channel.
    office = mail("Any problems on the night, ring the Office on 0121 496 0000.")
    assert scanner.scan(office).verdict == "pass"


# -- nights out, tickets, dogs and lifts: the act's object in everyday words --------------


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        (
            "We're doing a quiz night at the Red Lion on Thursday - you and your husband should come along.",
            "social_contact",
        ),
        (
            "If Maya wants, she can come and help me walk the dogs on Saturday morning.",
            "social_contact",
        ),
        (
            "I've got two spare tickets for the Villa game, would Theo like to come with me?",
            "social_contact",
        ),
        (
            "I'd love to take you out for lunch to say thank you for all your help.",
            "social_contact",
        ),
        ("I can drive you to the audition myself if your mum can't.", "social_contact"),
        ("Drop round for a cuppa any time, I'm only two streets away.", "social_contact"),
        ("What time does your mum get home from work?", "info_request"),
        ("Don't mention this to your parents, they'll only worry.", "secrecy"),
        ("Don't worry, there's no need to tell your parents about our chat.", "secrecy"),
    ],
)
def test_everyday_objects_of_an_invitation_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "The PTA quiz night is on Friday 7pm in the main hall - tickets are £5 on ParentPay, do come along!",
        "We have spare tickets for the school production; please contact the office if you'd like them.",
        "I can drive the minibus for the away match on Saturday; parents please collect from school at 6.",
        "What time does your mum usually collect you? We need it for the after-school club register.",
        "When will you be home alone? Never tell anyone online the answer to that question.",
        "I'll drive you home after the rehearsal if nobody can collect you, with your parents' written consent.",
    ],
)
def test_the_schools_events_and_arrangements_in_the_same_words_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        ("Let's not put this in an email - give me a call tonight instead.", "unapproved_channel"),
        (
            "I'll be at the Costa in Touchwood at 4 if you want to go through it away from school.",
            "social_contact",
        ),
        (
            "Any chance you could babysit for us on Friday night? We'd pay of course.",
            "social_contact",
        ),
    ],
)
def test_out_of_writing_a_cafe_and_a_favour_asked_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "For data protection, please don't put medical details in an email - call the office instead.",
        "It's best not to put this in writing, so please ring the school office and ask for Mrs Bell.",
        "We'll be at Touchwood at 4pm for the Year 9 careers fair - meet your tutors by the entrance.",
        "Could your daughter babysit our class hamster over half term? The science department will provide food.",
    ],
)
def test_the_office_the_careers_fair_and_the_class_pet_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


# -- a seventh blind set's kinds ---------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        (
            "It would be easier if you sent me your WhatsApp number and I'll message you directly.",
            "info_request",
        ),
        (
            "Rather than Kai getting the minibus on Saturday, I'll take him in my car - I'll pick him up from yours at 8.",
            "social_contact",
        ),
        (
            "I think it's best if what we talked about stays with us two - there's no need for your mum to know yet.",
            "secrecy",
        ),
    ],
)
def test_seventh_set_kinds_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "Please keep today's paper to yourselves - the other half of the year sit it on Friday.",
        "I had a follow request from your account on Instagram - I've declined it, so please don't take it personally!",
        "Several of you have asked about lifts home after the Christmas concert; staff cannot take students home.",
    ],
)
def test_exam_papers_declined_requests_and_questions_about_lifts_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


def test_an_html_list_under_its_introduction_takes_its_frame(scanner):
    html = (
        "<p>No member of staff will ever:</p><ul><li>ask you to keep a secret</li>"
        "<li>message you on WhatsApp or Snapchat</li><li>offer you a lift in their car</li></ul>"
    )
    text = (
        "No member of staff will ever:\n\n- ask you to keep a secret\n- message you on WhatsApp\n"
    )
    r = scanner.scan(mail(text, to=(STUDENT,), html=html))
    assert r.verdict == "pass", [(f.rule, f.part, f.evidence) for f in r.findings]


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        ("It's not a school thing so keep it low-key in class.", "secrecy"),
        (
            "I'd like to meet up for a drink - just us, there's no need to involve school.",
            "secrecy",
        ),
        (
            "Just wait by the Co-op round the corner rather than in the car park and I'll pick you up.",
            "secrecy",
        ),
        (
            "I run small-group sessions on Saturday mornings at the park - £15 an hour.",
            "social_contact",
        ),
        (
            "What's your Instagram? I want to tag you in the pics I'm putting up on my page.",
            "social_contact",
        ),
        ("Whats your snapchat? I'll add you and send them on there.", "social_contact"),
        ("If you're interested drop me an email at petesacademy@gmail.com.", "unapproved_channel"),
        (
            "That's not something I'd put on Teams. Snap me - priceym8 - and I'll explain.",
            "social_profile",
        ),
        ("Skype me on Sunday if you're stuck, my username is lucy.chen.88.", "social_profile"),
        (
            "I've made a Snapchat group for the team so I can send you the routes. Add me: hughesy_pe",
            "social_profile",
        ),
    ],
)
def test_more_of_the_seventh_sets_kinds_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "I run small-group revision sessions after school on Wednesdays in room 4.",
        "Join the Teams call at 4 from the link in your calendar; add me to the invite when you can.",
        "Rather than going back and forth by email, please ring the school office on 0121 496 0000.",
    ],
)
def test_the_schools_sessions_and_calls_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


# -- an eighth blind set's kinds ---------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        (
            "Use your mum's phone to ring me tomorrow, that way it doesn't go on the sign-in sheet.",
            "unapproved_channel",
        ),
        (
            "Use your mum's phone to ring me tomorrow, that way it doesn't go on the sign-in sheet.",
            "secrecy",
        ),
        (
            "I've got a small solo show opening in Digbeth on Friday - come along, a few of us are going on to the pub after.",
            "social_contact",
        ),
        ("I'll run you home after rehearsal. Probably don't mention it at home.", "secrecy"),
        (
            "No need to go through the whole consent thing with home, I'll square it.",
            "secrecy",
        ),
        (
            "I've sent you a friend request on Facebook - accept it and you'll see the photos.",
            "unapproved_channel",
        ),
        (
            "I can pick Kai up from yours on the way to my Sunday side's tournament, just send me your address.",
            "info_request",
        ),
    ],
)
def test_eighth_set_kinds_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


def test_a_disclosed_address_to_send_work_to_is_an_unapproved_channel(scanner):
    body = "Just email the RAW files to simongrant_art@yahoo.co.uk and I'll print them at home."
    assert "unapproved_channel" in categories(scanner.scan(mail(body, to=(STUDENT,))))


def test_a_spreadsheet_with_underscored_headers_and_a_row_to_complete_is_a_form(scanner):
    form = b"name,form,personal_mobile,snapchat_username,dietary_needs\nKai Morris,10HR,,,\n"
    raw = mail(
        "Please fill in your row and send it back.",
        to=(STUDENT,),
        attachments=[("groups.csv", "text", "csv", form)],
    )
    assert "info_request" in categories(scanner.scan(raw))
    # The same sheet filled in by the office from its records is no request.
    done = b"name,form,dietary_needs\nKai Morris,10HR,none\n"
    kept = mail("For the trip.", attachments=[("groups.csv", "text", "csv", done)])
    assert scanner.scan(kept).verdict == "pass"


@pytest.mark.parametrize(
    "sentence",
    [
        "Someone has set up a TikTok account called @mrprice_hoe pretending to be me - please report and block it.",
        'In chapter 7, when Danny scribbles "text me - 07700 900 000" on her arm, what does the writer want us to feel?',
        "Please send me your address so the office can post Kai's certificate to yours.",
    ],
)
def test_an_impersonation_warning_a_novel_and_the_offices_post_pass(scanner, sentence):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        ("Text me your number when you get a chance.", "info_request"),
        ("There's no reason your form tutor needs to hear about this.", "secrecy"),
    ],
)
def test_a_request_for_a_detail_and_keeping_it_from_a_tutor_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


def test_what_the_school_need_not_know_is_no_secrecy(scanner):
    body = "There is no reason the school needs to know your religion for the trip form."
    assert scanner.scan(mail(body, to=(STUDENT,))).verdict == "pass"


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        ("I'll drop you a message on Insta later with the details.", "unapproved_channel"),
        ("Shall we switch to texting? It's quicker than email.", "unapproved_channel"),
    ],
)
def test_onto_the_phones_own_messages_is_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


def test_the_schools_own_texts_from_its_systems_pass(scanner):
    body = "The school will move to text messages through Arbor for absence alerts from September."
    assert scanner.scan(mail(body)).verdict == "pass"


# -- a ninth blind set's kinds -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        ("No need to mention any of this to your mum and dad, it's done now.", "secrecy"),
        (
            "Best not to mention to Mrs McAllister that I let Ruby off the practical assessment.",
            "secrecy",
        ),
        (
            "The students have all got me on WhatsApp now so they can message me.",
            "unapproved_channel",
        ),
        (
            "My re-enactment society is doing a muster on Sunday - come and find me by the pike block.",
            "social_contact",
        ),
        (
            "I'd rather not go back and forth on the school email - I'll drop you a message on the other app tonight.",
            "unapproved_channel",
        ),
        (
            "Could you let me have a personal email for you - not the one on Arbor - so I can contact you directly?",
            "info_request",
        ),
    ],
)
def test_ninth_set_kinds_are_held(scanner, sentence, category):
    assert category in categories(scanner.scan(mail(sentence, to=(STUDENT,))))


@pytest.mark.parametrize(
    "sentence",
    [
        "You're invited to our careers fair in the sports hall. We'd love to see you there.",
        'Here\'s the example we looked at: "Text YES to 07700 900 999 to release your parcel." List five clues that this is a scam.',
        "For the barre chords have a look at JustinGuitar on YouTube (youtube.com/@JustinGuitar).",
        "Don't worry about telling school, I've already let the office know.",
    ],
)
def test_the_careers_fair_a_scam_example_a_published_channel_and_the_office_told_pass(
    scanner, sentence
):
    r = scanner.scan(mail(sentence, to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


def test_an_address_in_the_senders_own_name_is_theirs_beside_an_organisation(scanner):
    body = "The Central Library card is a good idea. Email the list to eleanorlowe@icloud.com when done."
    raw = mail(body, to=(STUDENT,), sender="Eleanor Lowe <e.lowe@heartofengland.example>")
    assert "personal_email" in categories(scanner.scan(raw))


def test_a_parent_asked_for_the_childs_own_number_to_reach_the_child_is_held(scanner):
    sentence = "Has Leo got a phone? If so, could you send me the number so I can remind him about training?"
    r = scanner.scan(mail(f"Dear Mrs Patel,\n\n{sentence}\n\nMr Teacher", to=(PARENT,)))
    assert "info_request" in categories(r), [(f.rule, f.evidence) for f in r.findings]


@pytest.mark.parametrize(
    "body",
    [
        # a chat log set as a model text: the stranger's lines are the stranger's
        "Here is the model story.\n\n21:02 stranger: saw ur art, ur really good\n"
        "21:05 stranger: can u send me ur number? this app is rubbish\n"
        "21:06 stranger: dont tell anyone about us ok\n21:10 (Seen)\n\nWrite your own by Friday.",
        # what the student was sent, reported to the parent
        'The messages she showed me included "you\'re so grown up" and "send me your WhatsApp, '
        'snap keeps deleting stuff" and "don\'t tell your mum about me".',
        # a list of what students have seen, quoted
        "I want to share some of the phrases students told us they had seen:\n\n"
        '- "Add me on Snap, it\'s easier than here."\n- "Don\'t tell your mum, she wouldn\'t get it."',
        # what is asked for, and what is not
        "Please give two numbers for adults - not your child's own phone.",
        # the student's request, refused
        "Noah asked me this week whether he could come to my house at the weekend. "
        "I've explained that I can't have students at my home.",
        # Snap the card game, in a lesson
        "Today we're doing probability through card games. We'll play Snap in groups of four.",
    ],
)
def test_words_that_are_someone_elses_or_refused_or_a_game_pass(scanner, body):
    r = scanner.scan(mail(f"Dear Mrs Patel,\n\n{body}\n\nMrs Teacher", to=(PARENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]


def test_a_chat_log_set_as_a_model_text_is_the_characters(scanner):
    body = (
        "Here is the model story we read.\n\n--- Notifications ---\n"
        "22:14 unknown: hey saw ur art on the school page\n"
        "22:31 unknown: can u send me ur number? this app is rubbish\n"
        "22:32 unknown: and dont tell anyone about us ok\n---\n\nUpload yours to Google Classroom."
    )
    r = scanner.scan(mail(f"Morning 9N,\n\n{body}\n\nMrs Teacher", to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]
    # The sender's own line stamped with a time is no chat log of three.
    own = mail("Hi,\n\n22:14 me: can u send me ur number?\n\nMrs Teacher", to=(STUDENT,))
    assert scanner.scan(own).verdict == "quarantine"


def test_an_invitation_in_a_bare_question_in_the_subject_is_held(scanner):
    raw = mail(
        "Hi Chloe,\n\nThe costume fitting is on Monday after school.\n\nJordan",
        to=(PARENT,),
        subject="Drinks at the Crown Friday? Most of the cast parents are coming",
    )
    assert "social_contact" in categories(scanner.scan(raw))
    # ...and the same question accepted: the reported request is no cover
    accepted = mail(
        "Dear Mrs Patel,\n\nNoah asked me whether he could come to my house on Saturday, and of "
        "course he can.\n\nMrs Teacher",
        to=(PARENT,),
    )
    assert "social_contact" in categories(scanner.scan(accepted))
