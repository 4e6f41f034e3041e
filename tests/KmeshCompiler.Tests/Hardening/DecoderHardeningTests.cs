using System.Buffers.Binary;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Hardening;

/// <summary>Decoders that trust nothing: images whose content hash was recomputed after an edit,
/// proto JSON with strings no .NET string can hold, YAML whose aliases multiply the work, and the
/// diagnostics that report them.</summary>
public class DecoderHardeningTests
{
    private static readonly FrontendSettings Settings = new("istio-system", "cluster.local", "Kubernetes", false);

    private static byte[] SampleImage(int seed = 42)
    {
        var world = WorldGen.World(new Random(seed));
        var image = Lowerer.Lower(world, world.Nodes[0].Name, new DiagnosticBag());
        Assert.NotNull(image);
        return image.ToBytes();
    }

    private static void Rehash(byte[] b) => Convert.FromHexString(ImageFile.ContentHashOfBody(b.AsSpan(ImageFile.HeaderSize))).CopyTo(b, 48);

    /// <summary>Offset of the first entry of a section, by walking the declarations.</summary>
    private static (int Entries, int KeySize, int ValueSize, int Count) Section(byte[] b, string name)
    {
        int p = ImageFile.HeaderSize;
        int Str() { int n = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(p)); p += 4 + n; return n; }
        uint U() { uint v = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(p)); p += 4; return v; }
        Str();
        uint sections = U();
        for (uint i = 0; i < sections; i++)
        {
            int start = p + 4;
            int len = Str();
            string s = Encoding.UTF8.GetString(b, start, len);
            U();
            int ks = (int)U(), vs = (int)U();
            U(); U();
            int n = (int)U();
            if (s == name) return (p, ks, vs, n);
            p += n * (ks + vs);
        }
        throw new InvalidOperationException(name + " not found");
    }

    private static string ReadError(byte[] b)
    {
        var bag = new DiagnosticBag();
        Assert.Null(ImageReader.Read("x.img", b, bag));
        return string.Join("\n", bag.Items.Select(d => d.ToString()));
    }

    [Fact]
    public void A_row_claiming_every_list_slot_is_refused_before_anything_walks_it()
    {
        var b = SampleImage();
        var (at, ks, vs, n) = Section(b, Layout.MapRules);
        Assert.True(n > 0);
        // struct kmesh_range { first, count }: the count of the first rule.
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at + ks + 4), 0xFFFFFFFF);
        Rehash(b);
        var err = ReadError(b);
        Assert.Contains("KM7105", err);
        Assert.Contains("past the end of km_lists", err);
    }

    [Fact]
    public void An_array_index_past_its_table_or_out_of_order_is_refused()
    {
        var b = SampleImage();
        var (at, ks, vs, n) = Section(b, Layout.MapPolicies);
        Assert.True(n > 1);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), Layout.MaxPolicies);
        Rehash(b);
        Assert.Contains("past its capacity", ReadError(b));

        b = SampleImage();
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at + ks + vs), 0); // second index = first
        Rehash(b);
        Assert.Contains("without gaps", ReadError(b));
    }

    [Fact]
    public void Header_flags_are_reserved_and_must_be_zero()
    {
        var b = SampleImage();
        b[12] = 1;
        Assert.Contains("header flags", ReadError(b));
    }

    [Fact]
    public void Every_word_of_an_image_set_to_a_boundary_value_with_the_hash_recomputed_reads_or_is_refused()
    {
        // Systematic, not random: every aligned 32-bit word of the body, each boundary value.
        var good = SampleImage(7);
        uint[] values = [0, 1, 0x7FFFFFFF, 0xFFFFFFFF];
        int refused = 0, read = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int at = ImageFile.HeaderSize; at + 4 <= good.Length; at += 4 * Math.Max(1, good.Length / 4 / 3000))
            foreach (var v in values)
            {
                var b = (byte[])good.Clone();
                BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
                Rehash(b);
                var one = System.Diagnostics.Stopwatch.StartNew();
                var image = ImageReader.Read("x.img", b, new DiagnosticBag());
                if (image is null) { refused++; continue; }
                read++;
                ImageText.Render(image);
                var it = new ImageInterpreter(image);
                foreach (var (addr, _) in it.Tables.Workloads.Take(2)) it.Syn(addr, addr, 80);
                Assert.True(one.Elapsed.TotalSeconds < 2, $"word at {at} = {v:x}: {one.Elapsed.TotalMilliseconds:F0} ms");
            }
        Assert.True(refused > 0 && read > 0, $"{refused} refused, {read} read");
    }

    [Fact]
    public void A_keyed_port_above_65535_does_not_write_outside_the_port_map()
    {
        var rich = Xds.XdsWorlds.Rich();
        var sel = rich.Policies.Single(p => p.Name == "sel");
        var L = sel.Location;
        var wide = sel with { Rules = [new Rule([new Clause([KmeshCompiler.Ir.Match.Empty(L) with { DestinationPorts = [70000, 0xFFFFFFF0] }], L)], L)] };
        var world = rich with { Policies = [.. rich.Policies.Select(p => p == sel ? wide : p)] };
        var image = Lowerer.Lower(world, "node-a", new DiagnosticBag());
        Assert.NotNull(image);
        var t = new ImageTables(ImageReader.Read("x.img", image.ToBytes(), new DiagnosticBag())!);
        // Port 70000's bit, written unchecked, lands in the local-address filter that follows the map.
        var expected = t.Workloads.Keys.Select(a => KmeshDecisionIndex.LocalBit(a.Value)).Distinct().Count();
        Assert.Equal(expected, t.Decisions.Index.LocalBitsSet());
    }

    [Theory]
    [InlineData("{\"typeUrl\":\"\xff\"}", "not valid UTF-8")]
    [InlineData("{\"typeUrl\":\"\\ud800\"}", "unpaired surrogate")]
    [InlineData("{\"typeUrl\":\"ok\",\n \"resources\": [\"\\udc00\"]}", "unpaired surrogate")]
    [InlineData("{\"typeUrl\":\"\",\"resources\":[{\"resource\":{}}]}", "no \"@type\"")]
    public void Proto_json_that_no_string_can_hold_is_a_located_error(string json, string expected)
    {
        var bytes = json.Select(c => (byte)c).ToArray(); // Latin-1: "\xff" stays one invalid byte
        var bag = new DiagnosticBag();
        InputLoader.Build([new SourceText("s.json", bytes)], Settings, bag);
        var d = Assert.Single(bag.Items, d => d.Severity == Severity.Error);
        Assert.Contains(expected, d.Message);
        Assert.True(d.Location.IsKnown);
        Assert.StartsWith("s.json", d.Location.ToString());
    }

    [Fact]
    public void Proto_json_errors_exit_1_from_the_cli()
    {
        string f = Path.Combine(Path.GetTempPath(), $"kmesh-bad-{Guid.NewGuid():N}.json");
        File.WriteAllBytes(f, "{\"typeUrl\":\"\\ud800\"}"u8.ToArray());
        try
        {
            var r = CliRunner.Run("validate", f);
            Assert.Equal(1, r.Exit);
            Assert.Contains("KM5003", r.Out + r.Err);
            Assert.DoesNotContain("internal error", r.Err);
        }
        finally { File.Delete(f); }
    }

    [Fact]
    public void Alias_expansion_is_bounded_by_the_size_of_the_text_across_documents()
    {
        // Each document expands to 10^5 nodes: far below the per-document cap, far above 16 per character.
        var sb = new StringBuilder();
        for (int d = 0; d < 20; d++)
        {
            sb.Append($"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{d}, namespace: default}}\ndata:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
            for (int i = 1; i < 5; i++) sb.Append($"  a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]\n");
            sb.Append("---\n");
        }
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var bag = new DiagnosticBag();
        InputLoader.Build([new SourceText("bomb.yaml", Encoding.UTF8.GetBytes(sb.ToString()))], Settings, bag);
        Assert.Equal(20, bag.Items.Count(d => d.Descriptor == Codes.DocumentTooLarge));
        Assert.True(sw.Elapsed.TotalSeconds < 5, $"{sw.Elapsed.TotalMilliseconds:F0} ms");
        // Aliases that expand a little (merge keys) stay fine.
        bag = new DiagnosticBag();
        InputLoader.Build([new SourceText("ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: c, namespace: default}\ndata: {<<: *m, x: *m}\n"u8.ToArray())], Settings, bag);
        Assert.DoesNotContain(bag.Items, d => d.Descriptor == Codes.DocumentTooLarge);
    }

    private static List<DiagnosticDescriptor> AllCodes() => typeof(Codes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(DiagnosticDescriptor)).Select(f => (DiagnosticDescriptor)f.GetValue(null)!).ToList();

    [Fact]
    public void Every_code_renders_its_arguments_with_no_placeholder_or_type_name_left()
    {
        var loc = new SourceLocation("f.yaml", 1, 1);
        foreach (var d in AllCodes())
        {
            int n = Regex.Matches(d.Format, @"\{(\d+)").Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + 1).DefaultIfEmpty(0).Max();
            // A string first, as the callers pass paths and names: it must be an argument, never the object.
            object?[] args = [.. Enumerable.Range(0, n).Select(i => i % 2 == 0 ? (object)$"arg{i}" : (object)(long)(1000 + i))];
            foreach (var diag in new[] { d.Create(loc, args), d.CreateFor("Pod ns/p", loc, args) })
            {
                Assert.DoesNotMatch(@"\{\d+[^}]*\}", diag.Message);
                Assert.DoesNotContain("System.", diag.Message);
                for (int i = 0; i < n; i++) Assert.Contains(args[i]!.ToString()!, diag.ToString());
            }
        }
    }

    [Fact]
    public void No_create_overload_can_take_a_message_argument_for_the_object()
    {
        // The class of KM9001/KM9003's bug: Create(location, string obj, params args) silently won
        // over Create(location, params args) for a string first argument.
        foreach (var m in typeof(DiagnosticDescriptor).GetMethods().Where(m => m.Name == "Create"))
        {
            var ps = m.GetParameters();
            Assert.True(ps.Length == 2 && ps[1].IsDefined(typeof(ParamArrayAttribute)), $"{m}: Create takes a location and the arguments only");
        }
        Assert.Equal("'/x/y' does not exist or cannot be read", Codes.PathNotFound.Create(SourceLocation.None, "/x/y").Message);
        Assert.Equal("'/x/y' is 5 bytes; inputs are limited to 4 bytes", Codes.InputTooLarge.Create(SourceLocation.None, "/x/y", 5L, 4L).Message);
    }
}
