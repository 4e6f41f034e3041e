using System.Reflection;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Kubernetes;

public class CatalogueTests
{
    private static List<DiagnosticDescriptor> All() => typeof(Codes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(DiagnosticDescriptor)).Select(f => (DiagnosticDescriptor)f.GetValue(null)!).ToList();

    [Fact]
    public void Codes_are_unique_and_in_their_ranges()
    {
        var all = All();
        Assert.Equal(all.Count, all.Select(d => d.Code).Distinct().Count());
        Assert.All(all, d => Assert.Matches(@"^KM[1-9]\d{3}$", d.Code));
    }

    [Fact]
    public void Every_code_is_documented()
    {
        string doc = File.ReadAllText(Repo.Path("docs", "diagnostics.md"));
        foreach (var d in All())
            Assert.Contains($"| {d.Code} | {d.Severity.ToString().ToLowerInvariant()} |", doc);
    }

    [Fact]
    public void Every_message_format_is_well_formed()
    {
        foreach (var d in All())
        {
            var args = Enumerable.Range(0, 8).Select(i => (object?)$"x{i}").ToArray();
            // Formats without placeholders are used as they are (no string.Format), so they hold no "{{".
            var diag = d.Format.Contains("{0}") ? d.Create(KmeshCompiler.Ir.SourceLocation.None, args) : d.Create(KmeshCompiler.Ir.SourceLocation.None);
            Assert.DoesNotContain("{{", diag.Message);
            Assert.DoesNotContain("{0}", diag.Message);
        }
    }
}
