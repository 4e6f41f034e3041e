using System.Reflection;

namespace KmeshCompiler.Diagnostics;

/// <summary>Every diagnostic descriptor with its name (the field name in <see cref="Codes"/>, as
/// docs/diagnostics.md lists it), sorted by code.</summary>
public static class Catalogue
{
    private static readonly Lazy<IReadOnlyList<(string Name, DiagnosticDescriptor Descriptor)>> _all = new(() =>
        typeof(Codes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (f.Name, (DiagnosticDescriptor)f.GetValue(null)!))
            .OrderBy(x => x.Item2.Code, StringComparer.Ordinal).ToList());

    public static IReadOnlyList<(string Name, DiagnosticDescriptor Descriptor)> All => _all.Value;

    public static (string Name, DiagnosticDescriptor Descriptor)? Find(string code) =>
        All.FirstOrDefault(x => string.Equals(x.Descriptor.Code, code, StringComparison.OrdinalIgnoreCase)) is { Descriptor: not null } hit ? hit : null;

    public static string NameOf(DiagnosticDescriptor d) => All.FirstOrDefault(x => ReferenceEquals(x.Descriptor, d) || x.Descriptor.Code == d.Code).Name ?? d.Code;

    /// <summary>The message format with its placeholders shown as ‹a›, ‹b›, ... (as the docs write them).</summary>
    public static string Template(DiagnosticDescriptor d) =>
        System.Text.RegularExpressions.Regex.Replace(d.Format, @"\{(\d+)\}", m => $"‹{(char)('a' + int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))}›")
            .Replace("{{", "{").Replace("}}", "}");
}
