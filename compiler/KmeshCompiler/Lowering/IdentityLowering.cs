using System.Collections.Immutable;
using System.IO.Hashing;
using System.Text;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>The identity test of a match over identity ids (semantics.md §3, docs/dataplane-layout.md
/// "Identities"): Never (no source passes), Always (no test), or membership of the source's identity
/// id — or, with <see cref="ByNamespace"/>, its namespace id — in <see cref="Members"/>, positive (In)
/// or negated (NotIn). Member 0 stands for a source without identity.</summary>
public readonly record struct IdentityTest(IdentityTestKind Kind, bool ByNamespace, uint[] Members);

public enum IdentityTestKind { Always, Never, In, NotIn }

/// <summary>One identity of the world (trust domain, namespace, service account) with the numbers
/// the kernel knows it by.</summary>
public sealed class IdentityGroup(Identity identity, string principal)
{
    public Identity Identity { get; } = identity;
    public string Principal { get; } = principal;
    public uint Id { get; internal set; }
    public uint Ns { get; internal set; }
}

/// <summary>Folds every identity field of a match into one <see cref="IdentityTest"/> over identity
/// or namespace ids, whichever is smaller, so that a test's size follows the policy, not the number
/// of pods. It depends on which identities the world's addresses lend (see
/// <see cref="Lowerer.AddressIndex"/> for which address lends which), not on the addresses. Results
/// are cached by the fields' content, since many matches share them.</summary>
public sealed class IdentityLowering
{
    private readonly Dictionary<string, List<IdentityGroup>> _byNamespace = new(StringComparer.Ordinal);
    private readonly List<string> _namespaces;
    private readonly Dictionary<string, uint> _nsId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IdentityTest> _cache = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IdentityGroup> _byPrincipal = new(StringComparer.Ordinal);
    private readonly Dictionary<(string TrustDomain, string Namespace, string ServiceAccount), IdentityGroup> _byFields = new();

    /// <summary>Every identity of the world, by principal (ordinal).</summary>
    public IReadOnlyList<IdentityGroup> Groups { get; }

    /// <param name="lending">The workloads whose addresses lend an identity (any order, repeats allowed).</param>
    public IdentityLowering(IEnumerable<Workload> lending)
    {
        foreach (var w in lending)
        {
            var fields = (w.TrustDomain, w.Namespace, w.ServiceAccount);
            if (_byFields.ContainsKey(fields)) continue;
            var id = w.Identity;
            var g = new IdentityGroup(id, id.ToString());
            _byFields[fields] = g;
            _byPrincipal[g.Principal] = g;
            if (!_byNamespace.TryGetValue(id.Namespace, out var l)) _byNamespace[id.Namespace] = l = new();
            l.Add(g);
        }
        _namespaces = _byNamespace.Keys.Order(StringComparer.Ordinal).ToList();
        var ordered = _byFields.Values.OrderBy(g => g.Principal, StringComparer.Ordinal).ToList();
        // Numbers derived from the names, so that they stay put when other identities come and go;
        // a collision takes the next free number, in name order (deterministic for a given world).
        var usedNs = new HashSet<uint>();
        foreach (var ns in _namespaces) _nsId[ns] = Number("ns/" + ns, usedNs);
        var usedId = new HashSet<uint>();
        foreach (var g in ordered)
        {
            g.Id = Number(g.Principal, usedId);
            g.Ns = _nsId[g.Identity.Namespace];
        }
        Groups = ordered;
    }

    /// <summary>The identity a lending workload's addresses carry.</summary>
    public IdentityGroup GroupOf(Workload w) => _byFields[(w.TrustDomain, w.Namespace, w.ServiceAccount)];

    private static uint Number(string name, HashSet<uint> used)
    {
        uint h = XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(name));
        while (h == 0 || !used.Add(h)) h++;
        return h;
    }

    public static bool HasIdentityFields(Match m) =>
        !m.Namespaces.IsEmpty || !m.NotNamespaces.IsEmpty || !m.Principals.IsEmpty || !m.NotPrincipals.IsEmpty ||
        !m.ServiceAccounts.IsEmpty || !m.NotServiceAccounts.IsEmpty;

    public IdentityTest Lower(Match m)
    {
        if (!HasIdentityFields(m)) return new IdentityTest(IdentityTestKind.Always, false, []);
        string key = Key(m);
        if (_cache.TryGetValue(key, out var cached)) return cached;
        var result = Compute(m);
        _cache[key] = result;
        return result;
    }

    private IdentityTest Compute(Match m)
    {
        // What a source without identity does: its namespace compares as "", principals and service
        // accounts fail, every negative list holds.
        bool unknownPasses = NamespacePair(m, "") && m.Principals.IsEmpty && m.ServiceAccounts.IsEmpty;
        bool perIdentity = !m.Principals.IsEmpty || !m.NotPrincipals.IsEmpty || !m.ServiceAccounts.IsEmpty || !m.NotServiceAccounts.IsEmpty;
        if (!perIdentity)
        {
            var passNs = _namespaces.Where(ns => NamespacePair(m, ns)).ToList();
            return Choose(true, passNs.Count, _namespaces.Count - passNs.Count, unknownPasses,
                () => passNs.Select(ns => _nsId[ns]), () => _namespaces.Except(passNs).Select(ns => _nsId[ns]));
        }
        var pass = new HashSet<IdentityGroup>();
        if (!unknownPasses && Narrowed(m) is { } few)
        {
            // Positive exact lists name the only identities that can pass: test just those.
            foreach (var g in few)
                if (NamespacePair(m, g.Identity.Namespace) && PrincipalPair(m, g.Principal) && ServiceAccountPair(m, g.Identity))
                    pass.Add(g);
        }
        else
        {
            foreach (var ns in _namespaces)
            {
                if (!NamespacePair(m, ns)) continue;
                foreach (var g in _byNamespace[ns])
                    if (PrincipalPair(m, g.Principal) && ServiceAccountPair(m, g.Identity)) pass.Add(g);
            }
        }
        // A result that takes whole namespaces or none of them is a namespace test (smaller).
        var nsOfPass = pass.Select(g => g.Identity.Namespace).Distinct().ToHashSet(StringComparer.Ordinal);
        if (nsOfPass.All(ns => _byNamespace[ns].All(pass.Contains)))
            return Choose(true, nsOfPass.Count, _namespaces.Count - nsOfPass.Count, unknownPasses,
                () => nsOfPass.Select(ns => _nsId[ns]), () => _namespaces.Where(ns => !nsOfPass.Contains(ns)).Select(ns => _nsId[ns]));
        return Choose(false, pass.Count, Groups.Count - pass.Count, unknownPasses,
            () => pass.Select(g => g.Id), () => Groups.Where(g => !pass.Contains(g)).Select(g => g.Id));
    }

    /// <summary>The smaller of "member in the passing ones" and "member not in the failing ones";
    /// member 0 (no identity) joins whichever side makes unknown sources do what they must. Only the
    /// chosen side is listed.</summary>
    private static IdentityTest Choose(bool byNs, int passCount, int failCount, bool unknownPasses,
        Func<IEnumerable<uint>> pass, Func<IEnumerable<uint>> fail)
    {
        if (unknownPasses) passCount++; else failCount++;
        if (passCount <= failCount)
            return passCount == 0 ? new IdentityTest(IdentityTestKind.Never, false, [])
                : new IdentityTest(IdentityTestKind.In, byNs, [.. (unknownPasses ? pass().Append(0u) : pass()).Order()]);
        return failCount == 0 ? new IdentityTest(IdentityTestKind.Always, false, [])
            : new IdentityTest(IdentityTestKind.NotIn, byNs, [.. (unknownPasses ? fail() : fail().Append(0u)).Order()]);
    }

    /// <summary>The identity groups a positive list of exact principals, service accounts or exact
    /// namespaces allows, or null when the match has no such list.</summary>
    private IEnumerable<IdentityGroup>? Narrowed(Match m)
    {
        if (!m.Principals.IsEmpty && m.Principals.All(p => p.Kind == StringMatchKind.Exact))
            return m.Principals.Select(p => _byPrincipal.GetValueOrDefault(p.Value)).OfType<IdentityGroup>().Distinct();
        if (!m.ServiceAccounts.IsEmpty)
            return m.ServiceAccounts.SelectMany(sa => _byNamespace.GetValueOrDefault(sa.Namespace) ?? [])
                .Where(g => m.ServiceAccounts.Any(sa => sa.Namespace == g.Identity.Namespace && sa.ServiceAccount == g.Identity.ServiceAccount)).Distinct();
        if (!m.Namespaces.IsEmpty && m.Namespaces.All(n => n.Kind == StringMatchKind.Exact))
            return m.Namespaces.Select(n => n.Value).Distinct().SelectMany(n => _byNamespace.GetValueOrDefault(n) ?? []);
        return null;
    }

    private static bool Pair<T>(ImmutableArray<T> pos, ImmutableArray<T> not, Func<T, bool> holds)
    {
        if (!pos.IsEmpty && !pos.Any(holds)) return false;
        return !not.Any(holds);
    }

    private static bool NamespacePair(Match m, string ns) => Pair(m.Namespaces, m.NotNamespaces, s => s.Matches(ns));

    private static bool PrincipalPair(Match m, string principal) => Pair(m.Principals, m.NotPrincipals, s => s.Matches(principal));

    private static bool ServiceAccountPair(Match m, Identity id) =>
        Pair(m.ServiceAccounts, m.NotServiceAccounts, sa => sa.Namespace == id.Namespace && sa.ServiceAccount == id.ServiceAccount);

    private static string Key(Match m)
    {
        var sb = new StringBuilder();
        void Strings(char tag, ImmutableArray<StringMatch> l)
        {
            foreach (var s in l) sb.Append(tag).Append((int)s.Kind).Append(':').Append(s.Value.Length).Append(':').Append(s.Value);
        }
        void Sas(char tag, ImmutableArray<ServiceAccountMatch> l)
        {
            foreach (var s in l) sb.Append(tag).Append(s.Namespace.Length).Append(':').Append(s.Namespace).Append(s.ServiceAccount.Length).Append(':').Append(s.ServiceAccount);
        }
        Strings('n', m.Namespaces); Strings('N', m.NotNamespaces);
        Strings('p', m.Principals); Strings('P', m.NotPrincipals);
        Sas('s', m.ServiceAccounts); Sas('S', m.NotServiceAccounts);
        return sb.ToString();
    }
}
