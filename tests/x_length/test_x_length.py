"""X's weighted length: twitter-text's published conformance cases, and hostile inputs.

Cases cite twitter/twitter-text's conformance files by file, section and case name
(the texts were typed from them); "v3.json" is config/v3.json of the same repository.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance import x_length
from appliance.x_length import _data, _links, fitting_length, url_spans, weighted_length


def urls(text):
    return [text[start:end] for start, end in url_spans(text)]


# v3.json "ranges": weight 1 inside, 2 outside; both edges of each range.
@pytest.mark.parametrize(
    "code_point, weight",
    [
        (0x41, 1),
        (4351, 1),
        (4352, 2),
        (8191, 2),
        (8192, 1),
        (8205, 1),
        (8206, 2),
        (8207, 2),
        (8208, 1),
        (8223, 1),
        (8224, 2),
        (8241, 2),
        (8242, 1),
        (8247, 1),
        (8248, 2),
        (0x3042, 2),  # あ
        (0x10000, 2),
    ],
)
def test_each_code_point_weighs_what_v3_says(code_point, weight):
    assert weighted_length("x" + chr(code_point)) == 1 + weight


# validate.yml, WeightedTweetsWithDiscountedEmojiCounterTest (the v3 configuration).
@pytest.mark.parametrize(
    "case, text, weight",
    [
        ("Regular Tweet with url", "Hi http://test.co", 26),
        ("Just url", "http://test.co", 23),
        ("160 emoji char, overflow at char index 140", "😷" * 160, 320),
        (
            "Count a mix of single byte single word, and double word unicode characters",
            "H🐱☺👨\u200d👩\u200d👧\u200d👦",
            7,
        ),
        ("Count unicode emoji chars inside the basic multilingual plane", "😷👾😡🔥💩", 10),
        (
            "Count unicode emoji chars outside the basic multilingual plane with skin tone "
            "modifiers",
            "🙋🏽👨\u200d🎤",
            4,
        ),
        (
            "Handle General Punctuation Characters with visible spaces(u2000-200A), no ZWJ/ZWNJ",
            "This is a tweet with general punctuation characters: "
            "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b "
            "‐ ‑ ‒ – — ― ‖  ‗ ‘ ’ ‚ ‛ “ ” „ ‟ ′ ″ ‴ ‵ ‶ ‷",
            110,
        ),
        (
            "Handle a 64 character domain without protocol",  # a label over 63: no link
            "randomurl" * 7 + "s.com",
            68,
        ),
        ("140 family emoji", "👨\u200d👩\u200d👧\u200d👦" * 140, 280),
        ("Emoji with a leading character in the latin range is counted as 2", "1\u20e3", 2),
        (
            "Unicode 10.0 emoji",
            "Unicode 10.0 emoji: 🤪; 🧕; 🧕🏾; 🏴\U000e0067\U000e0062\U000e0065\U000e006e"
            "\U000e0067\U000e007f",
            34,
        ),
        ("Unicode 9.0 emoji", "Unicode 9.0 emoji: 🤠; 💃; 💃🏾", 29),
        # validate.yml, UnicodeDirectionalMarkerCounterTest
        ("Handle invalid characters", "ABC\u202a\uffffABC\ufffe", 12),
        (
            "Tweet text containing directional characters should be considered valid",
            "\u2066\u202ahttp://foobar.پاکستان/\u202c\u2069",
            31,
        ),
    ],
)
def test_weighted_length_matches_the_conformance_suite(case, text, weight):
    assert weighted_length(text) == weight, case


def test_nfc_comes_first():
    # validate.yml: "'Á' is normalized into 1 char" (A + combining acute).
    assert weighted_length("A\u0301") == 1
    # validate.yml: "שּׁ is normalized into 3 chars"; each of them weighs 1 (under 4352).
    assert weighted_length("\u05e9\u05bc\u05c1") == 3


def test_a_punycode_host_over_63_characters_is_not_a_link():
    # validate.yml WeightedTweetsWithDiscountedEmojiCounterTest, "Do not allow > 140 CJK
    # characters by virtue of CJK chars greater than 63 punycode encoded chars in the host"
    # and "Allow > 140 CJK characters by virtue of CJK chars less than 63 ...".
    words = "あいうえおかきくけこ" * 12
    host = "あいうえおかきくけこ" * 5
    assert weighted_length(f"{words} http://{host}あいう.com") == 358
    assert weighted_length(f"{words} http://{host}あい.com") == 264


def test_long_links_with_invalid_labels_count_as_text():
    # validate.yml, "Handle long url with invalid domain labels and short url".
    long_url = "https://" + "somesuperlongurl" * 249 + ".com/foo"
    text = (
        "Long url with invalid domain labels and a short url: "
        + " ".join([long_url] * 3)
        + " https://validurl.com"
    )
    assert weighted_length(text) == 12079


# extract.yml, section "urls" (case names as there).
@pytest.mark.parametrize(
    "case, text, expected",
    [
        ("Extract a lone URL", "http://example.com", ["http://example.com"]),
        ("Extract a lone unicode url", "http://ああ.com", ["http://ああ.com"]),
        ("Extract valid URL: http://foobar.com/#", "text http://foobar.com/#",
         ["http://foobar.com/#"]),
        (
            "Extract valid URL: http://google.com/#search?q=iphone%20-filter%3Alinks",
            "text http://google.com/#search?q=iphone%20-filter%3Alinks",
            ["http://google.com/#search?q=iphone%20-filter%3Alinks"],
        ),
        ("Extract valid URL: http://somehost.com:3000", "text http://somehost.com:3000",
         ["http://somehost.com:3000"]),
        ("Extract valid URL: http://xo.com/~matthew+%ff-,.;x",
         "text http://xo.com/~matthew+%ff-,.;x", ["http://xo.com/~matthew+%ff-,.;x"]),
        ("Extract valid URL: http://en.wikipedia.org/wiki/Primer_(film)",
         "text http://en.wikipedia.org/wiki/Primer_(film)",
         ["http://en.wikipedia.org/wiki/Primer_(film)"]),
        ("Extract valid URL: http://✪df.ws/ejp", "text http://✪df.ws/ejp",
         ["http://✪df.ws/ejp"]),
        ("Extract valid URL: http://example.com/",
         "test http://example.comだよね.comtest/hogehoge", ["http://example.com"]),
        ("Extract valid URL: http://chilp.it/?77e8fd", "text http://chilp.it/?77e8fd",
         ["http://chilp.it/?77e8fd"]),
        (
            "Extract valid URL: http://msdn.microsoft.com/ja-jp/library/system.net."
            "httpwebrequest(v=VS.100).aspx",
            "text http://msdn.microsoft.com/ja-jp/library/system.net.httpwebrequest(v=VS.100).aspx",
            ["http://msdn.microsoft.com/ja-jp/library/system.net.httpwebrequest(v=VS.100).aspx"],
        ),
        ("DO NOT extract invalid URL: http://no-tld", "text http://no-tld", []),
        ("DO NOT extract invalid URL: http://tld-too-short.x", "text http://tld-too-short.x",
         []),
        ("DO NOT extract invalid URL with invalid preceding character: (http://twitter.com",
         "(http://twitter.com", ["http://twitter.com"]),
        ("DO NOT Extract a hyphenated TLD (even though it's usually a typo)",
         "text http://domain.com-that-you-should-have-put-a-space-after", []),
        ("Extract URL ending with # value", "text http://foo.com?#foo text",
         ["http://foo.com?#foo"]),
        ("Extract URLs without protocol on (com|org|edu|gov|net) domains",
         "foo.com foo.net foo.org foo.edu foo.gov",
         ["foo.com", "foo.net", "foo.org", "foo.edu", "foo.gov"]),
        (
            "Extract URLs without protocol not on (com|org|edu|gov|net) domains",
            "foo.baz foo.co.jp www.xxxxxxx.baz www.foo.co.uk wwwww.xxxxxxx foo.comm "
            "foo.somecom foo.govedu foo.jp",
            ["foo.co.jp", "www.foo.co.uk", "foo.jp"],
        ),
        ("Extract URLs without protocol on ccTLD with slash", "t.co/abcde bit.ly/abcde",
         ["t.co/abcde", "bit.ly/abcde"]),
        ("Extract URLs with a - or + at the end of the path",
         "Go to http://example.com/a+ or http://example.com/a-",
         ["http://example.com/a+", "http://example.com/a-"]),
        ("Extract URLs with an en dash in the path",
         "Go to https://en.m.wikipedia.org/wiki/Hatfield–McCoy_feud please",
         ["https://en.m.wikipedia.org/wiki/Hatfield–McCoy_feud"]),
        ("Extract URLs beginning with a space", "@user Try http:// example.com/path",
         ["example.com/path"]),
        ("Extract long URL without protocol surrounded by CJK characters",
         "これは日本語です。example.com/path/index.html中国語example.com/path한국",
         ["example.com/path/index.html", "example.com/path"]),
        (
            "Extract short URL without protocol surrounded by CJK characters",
            "twitter.comこれは日本語です。example.com中国語t.co/abcde한국twitter.com "
            "example2.comテストtwitter.com/abcde",
            ["twitter.com", "example.com", "t.co/abcde", "twitter.com", "example2.com",
             "twitter.com/abcde"],
        ),
        ("Extract URLs with protocol and path containing Cyrillic characters",
         "Go to http://twitter.com/Русские_слова", ["http://twitter.com/Русские_слова"]),
        ("Extract short URLs without protocol on ccTLD domains without path",
         "twitter.jp日本語it.so中国語foo.jp it.so foo.jp",
         ["twitter.jp", "it.so", "foo.jp", "it.so", "foo.jp"]),
        ("DO NOT extract invalid URL", "Hello http://xn--はじめよう.com/index.html", []),
        ("DO NOT Extract URL with domain preceeded by underscore",
         "text http://domain-dash_2314352345_dfasd.foo-cow_4352.com", []),
        ("DO NOT Extract URLs with a - or + in the middle of an email address",
         "Email me at name.al-lastname@foo.com or name.al+lastname@foo.com", []),
        ("Extract URLs with a - in the middle", "Find my page at name.al-lastname.com",
         ["name.al-lastname.com"]),
        ("Extract some (tv|co) short URLs without protocol on ccTLD domains without path",
         "MLB.tv vine.co twitch.tv t.co", ["MLB.tv", "vine.co", "twitch.tv", "t.co"]),
        ("Extract URLs beginning with a non-breaking space (U+00A0)",
         "@user Try http://\u00a0example.com/path", ["example.com/path"]),
        ("Extract URLs with underscores and dashes in the subdomain",
         "test http://sub_domain-dash.twitter.com", ["http://sub_domain-dash.twitter.com"]),
        ("Extract URL with minimum number of valid characters", "test http://a.b.cd",
         ["http://a.b.cd"]),
        ("Extract URLs containing underscores and dashes", "test http://a_b.c-d.com",
         ["http://a_b.c-d.com"]),
        ("DO NOT extract URLs containing leading dashes in the subdomain",
         "test http://-leadingdash.twitter.com", []),
        ("DO NOT extract URLs containing trailing dashes in the domain with a subdomain",
         "test http://trailingdash.twitter-.com", []),
        ("DO NOT extract URLs containing leading underscores in the domain with a subdomain",
         "test http://leadingunderscore._twitter.com", []),
        ("DO NOT extract URLs containing underscores in the domain name",
         "test http://twitter_underscore.com", []),
        ("DO NOT extract URLs containing underscores in the tld", "test http://twitter.c_o_m",
         []),
        ("Extract valid URL http://www.foo.com/foo/path-with-period./",
         "test http://www.foo.com/foo/path-with-period./",
         ["http://www.foo.com/foo/path-with-period./"]),
        ("Extract valid URL http://www.foo.org.za/foo/bar/688.1",
         "test http://www.foo.org.za/foo/bar/688.1", ["http://www.foo.org.za/foo/bar/688.1"]),
        ("Extract valid URL http://www.foo.com/bar-path/some.stm?param1=foo;param2=P1|0||P2|0",
         "test http://www.foo.com/bar-path/some.stm?param1=foo;param2=P1|0||P2|0",
         ["http://www.foo.com/bar-path/some.stm?param1=foo;param2=P1|0||P2|0"]),
        ("Extract valid URL ELPAÍS.com", "test ELPAÍS.com", ["ELPAÍS.com"]),
        ("DO NOT include period at the end of URL", "test http://twitter.com/.",
         ["http://twitter.com/"]),
        ("Extract a URL with a ton of trailing periods",
         "Test a ton of periods http://example.com/path" + "." * 42,
         ["http://example.com/path"]),
        ("Extract a URL with a ton of trailing commas",
         "Test a ton of periods http://example.com/" + "," * 42, ["http://example.com/"]),
        ("Extract a URL with a ton of trailing '!'",
         "Test a ton of periods http://example.com/path/" + "!" * 42,
         ["http://example.com/path/"]),
        ("DO NOT extract URLs in hashtag or @mention",
         "#test.com @test.com #http://test.com @http://test.com #t.co/abcde @t.co/abcde", []),
        ("Extract a t.co URL with a trailing apostrophe",
         "I really like http://t.co/pbY2NfTZ's website", ["http://t.co/pbY2NfTZ"]),
        ("Extract a t.co URL with a trailing hyphen",
         "Check this site out http://t.co/FNkPfmii- it's great", ["http://t.co/FNkPfmii"]),
        ("DO NOT extract URLs with > 40 characters in a t.co slug",
         "I really like http://t.co/abcdefghijklmnopqrstuvwxyz012345678901234", []),
        ("Extract domain followed by Japanese characters",
         "example.comてすとですtwitter.みんなです", ["example.com", "twitter.みんな"]),
        (
            "Extract URL before newline",
            "http://twitter.com\nhttp://example.com\nhttp://example.com/path\n"
            "example.com/path\nit.so\nit.so/abcde",
            ["http://twitter.com", "http://example.com", "http://example.com/path",
             "example.com/path", "it.so", "it.so/abcde"],
        ),
        ("DO NOT extract URL if preceded by $",
         "$http://twitter.com $twitter.com $http://t.co/abcde $t.co/abcde $t.co $TVI.CA "
         "$RBS.CA", []),
        ("DO NOT extract .bz2 file name as URL", "long.test.tar.bz2 test.tar.bz2 tar.bz2", []),
        ("DO NOT extract URL with gTLD followed by @ sign", "john.doe.gov@mail.com", []),
        ("DO NOT extract URL with ccTLD followed by @ sign", "john.doe.jp@mail.com", []),
        # extract.yml, section "tco_urls_with_params"
        ("Extract a valid URL with params: https://t.co/asdfdf?a=b#123",
         "text https://t.co/asdfdf?a=b#123", ["https://t.co/asdfdf?a=b#123"]),
        # extract.yml, section "urls_with_indices"
        ("Properly extract URL that contains t.co in referer",
         "http://www.foo.com?referer=https://t.co/abcde http://t.co/xyzzy",
         ["http://www.foo.com?referer=https://t.co/abcde", "http://t.co/xyzzy"]),
        ("Extract I18N URL", "test http://xn--ls8h.XN--ls8h.la/",
         ["http://xn--ls8h.XN--ls8h.la/"]),
        ("Extract URLs with IDN(not encoded)",
         "test http://foobar.みんな/ http://foobar.中国/ http://foobar.پاکستان/ ",
         ["http://foobar.みんな/", "http://foobar.中国/", "http://foobar.پاکستان/"]),
    ],
)  # fmt: skip
def test_links_are_found_as_twitter_text_finds_them(case, text, expected):
    assert urls(text) == expected, case


def test_link_positions_match_the_conformance_suite():
    # extract.yml, urls_with_indices: "Extract t.co URLs skipping trailing characters and
    # adjusting indices correctly".
    text = (
        "http://t.co/pbY2NfTZ's http://t.co/2vYHpAc5; http://t.co/ulYGBYSo: "
        "http://t.co/8MkmHU0k+c http://t.co/TKLp64dY.x http://t.co/8t7G3ddS#a "
        "http://t.co/FNkPfmii-"
    )
    assert url_spans(text) == [
        (0, 20), (23, 43), (45, 65), (67, 87), (90, 110), (113, 133), (136, 156),
    ]  # fmt: skip
    # urls_with_directional_markers: "Extract URLs from RTL text with embedded directional
    # marks".
    rtl = (
        "This is a test \u2066\u202atwitter.com\u202c\u2069 "
        "\u2066\u202ahttp://foobar.پاکستان/\u202c\u2069⁩ قطر فلسطين عمان"
    )
    assert url_spans(rtl) == [(17, 28), (33, 55)]


def test_a_link_weighs_23_however_long():
    assert weighted_length("see https://example.com/" + "a" * 500) == 4 + 23
    assert weighted_length("example.com example.org") == 23 + 1 + 23


def test_emoji_sequences_weigh_two_as_a_whole():
    assert weighted_length("🇯🇵") == 2  # a flag: two regional indicators
    assert weighted_length("#\ufe0f\u20e3") == 2  # a keycap
    assert weighted_length("👍🏿") == 2  # a skin tone
    assert weighted_length("❤\ufe0f") == 2  # a variation selector
    # © and ® weigh 1 on their own and 2 as emoji, like twitter-text's regex has them.
    assert weighted_length("©") == 1
    assert weighted_length("©\ufe0f") == 2


def test_emoji_sequences_are_the_qualified_ones_as_in_twitter_texts_regex():
    # java/.../TwitterTextEmojiRegex.java (generated from Unicode's emoji data): a ZWJ
    # sequence lacking its U+FE0F is not one emoji, so its parts count (2 + 1 + 2) ...
    assert weighted_length("🏳\u200d🌈") == 5
    assert weighted_length("🏳\ufe0f\u200d🌈") == 2
    # ... and a text-style base may carry U+FE0F before its skin tone.
    assert weighted_length("⛹\ufe0f🏽") == weighted_length("⛹🏽") == 2


def test_a_blank_text_has_no_length():
    # Java's TwitterTextParser.parseTweet: a text that trim() empties has no length.
    assert weighted_length("") == weighted_length(" \n\t") == 0
    assert weighted_length("\u3000") == 2  # not trimmed there


def test_the_count_skips_a_links_text_not_its_indices():
    # twitter-text's parseTweet skips url.length: for a link without a scheme whose domain
    # ends in non-Latin labels, that is the ASCII domain plus the path.
    text = "example.com日本.jp/abc"
    assert url_spans(text) == [(0, len(text))]
    assert weighted_length(text) == 23 + len("p/abc")


def test_fitting_length_matches_the_valid_range():
    # validate.yml WeightedTweetsWithDiscountedEmojiCounterTest: "160 CJK char, overflow
    # at char index 140" (validRangeEnd 139) and "160 emoji char, overflow at char index
    # 140" (validRangeEnd 279 in UTF-16: 140 emoji).
    assert fitting_length("故" * 160) == 140
    assert fitting_length("😷" * 160) == 140
    # A link is never split: 270 x's, then a link that would end past 280.
    assert fitting_length("x" * 270 + " example.com") == 271


# Hostile inputs. Each must finish well inside its timeout; the old library took 28 s on
# the first and 332 s on the second.
@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "text",
    [
        "a." * 1500,
        "a." * 5000,
        "a." * 50_000,
        "a." * 50_000 + "com",
        "a." * 50_000 + "-.com",
        "a.com " * 16_666,
        "1" * 100_000,
        "x" * 100_000,
        "日." * 50_000,
        "http://" + "a." * 50_000,
        "http://x.com/" + "(" * 100_000,
        "http://x.com/" + "(a" * 50_000,
        "http://x.com/?" + "!" * 100_000,
        "a-" * 50_000 + ".com",
        "a_" * 50_000 + ".com",
        "😀\u200d" * 50_000,
        "1\ufe0f" * 50_000,
        ("example.com/" + "a" * 70 + " ") * 1200,
    ],
    ids=lambda text: f"{text[:12]!r}…{len(text)}",
)
def test_hostile_texts_are_measured(text):
    weight = weighted_length(text)
    assert 0 < weight <= 2 * len(text) + 23 * text.count(".")


class _Counting:
    """Counts how often the scanner asks the questions whose number could blow up."""

    def __init__(self, monkeypatch):
        self.calls = 0
        for module, name in (
            (_links, "_tld_end"),
            (_links, "_path_end"),
            (_links, "_query_end"),
            (x_length, "_emoji_end"),
        ):
            monkeypatch.setattr(module, name, self._wrap(getattr(module, name)))
        original_label_end = _links._Domains.label_end

        def label_end(domains, start):
            self.calls += 1
            return original_label_end(domains, start)

        monkeypatch.setattr(_links._Domains, "label_end", label_end)

    def _wrap(self, function):
        def counted(*args):
            self.calls += 1
            return function(*args)

        return counted


PIECES = ["a", "b", ".", "-", "_", "/", "(", ")", "?", "=", "@", "#", " ", "com", "co",
          "http://", "https://", "日", "😀", "\u200d", "\ufe0f", "\u20e3", "1", "xn--",
          "みんな", "\u202a"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=400))
def test_any_text_is_measured_in_a_number_of_steps_linear_in_its_length(pieces):
    text = "".join(pieces)
    with pytest.MonkeyPatch.context() as monkeypatch:
        counting = _Counting(monkeypatch)
        weight = weighted_length(text)
    # Every question the scanner asks is about one position of the text (each at most a
    # few times), never about every pair of positions.
    assert counting.calls <= 4 * len(text) + 4
    assert weight >= 0
    assert fitting_length(x_length.normalize(text), 50) <= len(x_length.normalize(text))


@given(st.text(max_size=300))
def test_text_without_links_or_emoji_weighs_by_code_point(text):
    text = x_length.normalize(text).replace(".", " ")
    text = _data.load_emoji().firsts.sub("", text)
    expected = sum(1 if x_length._LIGHT.match(char) else 2 for char in text)
    assert weighted_length(text) == (expected if text.strip(x_length._TRIMMED) else 0)


@pytest.mark.parametrize(
    "text",
    [
        "a." * 2000,
        # A TLD in the text, so the domain search runs; every chain of labels breaks at "-."
        "a." * 2000 + "-.com",
        "日." * 2000 + "-.com",
        "http://" + "a." * 2000 + "-.com",
        "a" * 4000 + ".com",
    ],
)
def test_long_chains_of_labels_are_worked_out_once(text, monkeypatch):
    counting = _Counting(monkeypatch)
    weighted_length(text)
    assert counting.calls <= 4 * len(text)
