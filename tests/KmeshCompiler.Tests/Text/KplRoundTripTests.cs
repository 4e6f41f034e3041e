using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Text;
using KmeshCompiler.Ir;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Text;

/// <summary>parse(print(ir)) == ir and print is idempotent, over generated worlds.</summary>
public class KplRoundTripTests
{
    internal static World Parse(string text, string file = "t.kpl")
    {
        var bag = new DiagnosticBag();
        var doc = KplFrontend.Parse(text, file, bag);
        Assert.True(!bag.HasErrors, "unexpected diagnostics:\n" + string.Join("\n", bag.Items) + "\n--- text ---\n" + text);
        return doc.World;
    }

    private static void AssertRoundTrip(World world)
    {
        var canonical = world.Canonical();
        string text = KplPrinter.Print(canonical);
        var back = Parse(text);
        var diff = IrEquality.FirstDifference(canonical, back);
        Assert.True(diff is null, $"round trip differs at {diff}\n--- text ---\n{text}");
        Assert.Equal(text, KplPrinter.Print(back));
    }

    [Fact]
    public void Generated_worlds_round_trip()
    {
        for (int seed = 0; seed < 300; seed++)
            AssertRoundTrip(WorldGen.World(new Random(seed)));
    }

    [Fact]
    public void Generated_worlds_with_hostile_strings_round_trip()
    {
        for (int seed = 0; seed < 300; seed++)
            AssertRoundTrip(HostileStrings.Apply(WorldGen.World(new Random(seed)), new Random(seed)));
    }

    [Fact]
    public void Printing_does_not_depend_on_input_order()
    {
        var w = WorldGen.World(new Random(7));
        var shuffled = new World(w.Namespaces.Reverse().ToImmutableArray(), w.Nodes.Reverse().ToImmutableArray(),
            w.Workloads.Reverse().ToImmutableArray(), w.Services.Reverse().ToImmutableArray(), w.Policies.Reverse().ToImmutableArray());
        Assert.Equal(KplPrinter.Print(w), KplPrinter.Print(shuffled));
    }

    [Fact]
    public void The_four_empty_shapes_are_distinct_and_round_trip()
    {
        var loc = SourceLocation.None;
        Policy P(string name, params Rule[] rules) => new(name, "demo", PolicyScope.Namespace, PolicyAction.Deny, false, [.. rules], loc);
        var zeroRules = P("a");
        var zeroClauses = P("b", new Rule([], loc));
        var zeroMatches = P("c", new Rule([new Clause([], loc)], loc));
        var emptyMatch = P("d", new Rule([new Clause([Match.Empty(loc)], loc)], loc));
        var w = new World([new Namespace("demo", loc)], [], [], [], [zeroRules, zeroClauses, zeroMatches, emptyMatch]);
        string text = KplPrinter.Print(w);
        Assert.Contains("policy demo/a deny {\n  scope namespace\n}\n", text);
        Assert.Contains("policy demo/b deny {\n  scope namespace\n  rule {}\n}\n", text);
        Assert.Contains("policy demo/c deny {\n  scope namespace\n  rule {\n    clause {}\n  }\n}\n", text);
        Assert.Contains("policy demo/d deny {\n  scope namespace\n  rule {\n    match {}\n  }\n}\n", text);
        AssertRoundTrip(w);
    }

    [Theory]
    [InlineData(StringMatchKind.Exact, "a*", "exact(a*)")]
    [InlineData(StringMatchKind.Exact, "*", "exact(*)")]
    [InlineData(StringMatchKind.Exact, "", "\"\"")]
    [InlineData(StringMatchKind.Prefix, "", "prefix(\"\")")]
    [InlineData(StringMatchKind.Prefix, "*a", "prefix(*a)")]
    [InlineData(StringMatchKind.Suffix, "a*", "*a*")]
    [InlineData(StringMatchKind.Suffix, "", "suffix(\"\")")]
    [InlineData(StringMatchKind.Presence, "", "*")]
    [InlineData(StringMatchKind.Presence, "x", "presence(x)")]
    [InlineData(StringMatchKind.Exact, "a b", "\"a b\"")]
    [InlineData(StringMatchKind.Prefix, "a b", "\"a b*\"")]
    [InlineData(StringMatchKind.Exact, "match", "\"match\"")]
    public void String_matches_use_istio_spelling_unless_ambiguous(StringMatchKind kind, string value, string expected)
    {
        var m = new StringMatch(kind, value);
        Assert.Equal(expected, KplNames.StringMatch(m));
        var loc = SourceLocation.None;
        var w = new World([], [], [], [], [new Policy("p", "n", PolicyScope.Namespace, PolicyAction.Allow, false,
            [new Rule([new Clause([Match.Empty(loc) with { Principals = [m] }], loc)], loc)], loc)]);
        AssertRoundTrip(w);
    }
}

/// <summary>Replaces names and string values with awkward ones: keywords, quotes, backslashes,
/// control characters, stars, spaces, non-ASCII, empty strings.</summary>
internal static class HostileStrings
{
    private static readonly string[] Pool =
    [
        "", "*", "**", "a*", "*a", "*a*", "a b", "match", "policy", "node", "nothing", "\"q\"", "back\\slash", "tab\there",
        "line\nbreak", "ünïcødé", "😀", "x(y)", "{", "}", "#hash", "semi;colon", "a,b", "\u0001", "ok-name", "-", "->", "a@b",
    ];

    private static string S(Random r) => r.Next(3) == 0 ? Pool[r.Next(Pool.Length)] : "n" + r.Next(100);

    private static StringMatch Sm(Random r) => new((StringMatchKind)r.Next(4), r.Next(4) == 0 ? "" : S(r));

    public static World Apply(World w, Random r) => new(
        w.Namespaces,
        [.. w.Nodes.Select(n => n with { Locality = new Locality(S(r), S(r), S(r)), Network = S(r) })],
        [.. w.Workloads.Select(x => x with
        {
            Uid = x.Uid + S(r), ServiceAccount = S(r), TrustDomain = S(r), Network = S(r), ClusterId = S(r),
            Locality = new Locality(S(r), S(r), S(r)),
            Services = [.. x.Services.Select(s => s with { ServiceKey = s.ServiceKey + S(r) })],
            AuthorizationPolicies = [.. x.AuthorizationPolicies.Select(p => p + S(r))],
        })],
        [.. w.Services.Select(s => s with
        {
            Hostname = r.Next(2) == 0 ? s.Hostname : S(r) + s.Name, // the name keeps keys unique
            Addresses = [.. s.Addresses.Select(a => a with { Network = S(r) })],
        })],
        [.. w.Policies.Select(p => p with
        {
            Name = p.Name + S(r),
            Rules = [.. p.Rules.Select(rule => rule with
            {
                Clauses = [.. rule.Clauses.Select(c => c with
                {
                    Matches = [.. c.Matches.Select(m => m.IsEmpty ? m : m with
                    {
                        Namespaces = [.. m.Namespaces.Select(_ => Sm(r))],
                        NotPrincipals = [.. m.NotPrincipals.Select(_ => Sm(r))],
                        Principals = [.. m.Principals.Select(_ => Sm(r))],
                        ServiceAccounts = [.. m.ServiceAccounts.Select(a => a with { ServiceAccount = S(r) + a.ServiceAccount })],
                    })],
                })],
            })],
        })]);
}
