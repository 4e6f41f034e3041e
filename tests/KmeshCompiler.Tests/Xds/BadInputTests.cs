using System.Diagnostics;
using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Tests.Xds;

/// <summary>Input a user (or a broken dump) can produce: located diagnostics, never an exception,
/// and memory bounded by the input, never by what a length prefix claims.</summary>
public class BadInputTests
{
    private static World Read(byte[] bytes, string path, out DiagnosticBag bag) => RoundTripTests.Read(bytes, path, out bag);

    [Fact]
    public void Every_truncation_of_a_binary_snapshot_is_a_located_error_or_a_clean_prefix()
    {
        var full = SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Binary);
        int firstFrame = 2 + (full[1] & 0x7F) * 128 + (full[0] & 0x7F); // a two-byte length prefix
        Assert.True(full[0] >= 0x80 && full[1] < 0x80, "the Address response of the rich world needs a two-byte prefix");
        for (int cut = 1; cut < full.Length; cut++)
        {
            Read(full[..cut], "cut.pb", out var bag);
            if (cut == firstFrame)
            {
                Assert.False(bag.HasErrors, $"cut at the frame boundary {cut}: {string.Join("; ", bag.Items)}");
                continue;
            }
            var d = Assert.Single(bag.Items, x => x.Severity == Severity.Error);
            Assert.Equal("KM5001", d.Code);
            Assert.Equal("cut.pb", d.Location.File);
            Assert.StartsWith(cut < firstFrame ? "response 1 at byte 0" : $"response 2 at byte {firstFrame}", d.Location.Resource);
        }
    }

    [Fact]
    public void A_length_prefix_larger_than_the_file_is_refused_before_any_allocation()
    {
        byte[] bytes = [0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x22, 0x00]; // claims 2 GiB - 1
        long before = GC.GetAllocatedBytesForCurrentThread();
        Read(bytes, "liar.pb", out var bag);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var d = Assert.Single(bag.Items);
        Assert.Equal("KM5001", d.Code);
        Assert.Equal("response 1 at byte 0", d.Location.Resource);
        Assert.Contains("2147483647 bytes but only 2 remain", d.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");

        // A varint longer than ten bytes, and one cut short.
        Read([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "long.pb", out bag);
        Assert.Equal("KM5001", Assert.Single(bag.Items).Code);
        Read([0x80], "short.pb", out bag);
        Assert.Equal("KM5001", Assert.Single(bag.Items).Code);
    }

    [Fact]
    public void A_nested_length_larger_than_its_message_is_a_parse_error_without_allocation()
    {
        // One response whose resources entry claims 1 GiB inside a 7-byte message.
        byte[] bytes = [0x06, 0x12, 0x80, 0x80, 0x80, 0x80, 0x04];
        long before = GC.GetAllocatedBytesForCurrentThread();
        Read(bytes, "nested.pb", out var bag);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal("KM5002", Assert.Single(bag.Items).Code);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var rng = new Random(1234);
        for (int i = 0; i < 3000; i++)
        {
            var bytes = new byte[rng.Next(0, 300)];
            rng.NextBytes(bytes);
            Read(bytes, "random.pb", out var bag);
            Assert.All(bag.Items, d => Assert.Equal("random.pb", d.Location.File));
        }
    }

    [Fact]
    public void Mutated_snapshots_never_throw_in_either_format()
    {
        var rng = new Random(99);
        var bin = SnapshotWriter.Write(XdsWorlds.Random(new Random(5)), SnapshotFormat.Binary);
        var json = SnapshotWriter.Write(XdsWorlds.Random(new Random(5)), SnapshotFormat.Json);
        const string Alphabet = "{}[]\":,0123456789abcdefAZ@/.-\\ \n";
        for (int i = 0; i < 600; i++)
        {
            var b = (byte[])bin.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--) b[rng.Next(b.Length)] = (byte)rng.Next(256);
            Read(b, "mutated.pb", out _);

            var j = (byte[])json.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--) j[rng.Next(j.Length)] = (byte)Alphabet[rng.Next(Alphabet.Length)];
            Read(j, "mutated.json", out _);
        }
    }

    [Fact]
    public void Json_with_characters_deleted_or_inserted_never_throws()
    {
        var rng = new Random(7);
        var text = Encoding.UTF8.GetString(SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Json));
        string[] inserts = ["{", "}", "[", "]", "\"", ",", ":", "null", "1e999", "-1", "\"@type\"", "\"\\u0000\"", "\"CgAAAf8=\"", "4294967296", "\"RANDOM\""];
        for (int i = 0; i < 800; i++)
        {
            var t = new StringBuilder(text);
            for (int k = rng.Next(1, 3); k > 0; k--)
            {
                int at = rng.Next(t.Length);
                if (rng.Next(2) == 0) t.Remove(at, Math.Min(t.Length - at, rng.Next(1, 12)));
                else t.Insert(at, inserts[rng.Next(inserts.Length)]);
            }
            Read(Encoding.UTF8.GetBytes(t.ToString()), "edited.json", out var bag);
            Assert.All(bag.Items, d => Assert.Equal("edited.json", d.Location.File));
        }
    }

    [Fact]
    public void Deeply_nested_json_is_a_located_error()
    {
        var deep = Encoding.UTF8.GetBytes("{\"typeUrl\":\"type.googleapis.com/istio.workload.Address\",\n \"resources\": " + new string('[', 100_000));
        Read(deep, "deep.json", out var bag);
        var d = Assert.Single(bag.Items);
        Assert.Equal("KM5003", d.Code);
        Assert.Equal(2, d.Location.Line);
        Assert.True(d.Location.Column > 60, d.ToString());
    }

    [Fact]
    public void Json_syntax_errors_carry_line_and_column()
    {
        Read(Encoding.UTF8.GetBytes("[\n  {\"typeUrl\": \"x\",,}\n]"), "bad.json", out var bag);
        var d = Assert.Single(bag.Items);
        Assert.Equal("KM5003", d.Code);
        Assert.Equal((2, 19), (d.Location.Line, d.Location.Column));
    }

    [Fact]
    public void Json_of_the_wrong_shape_is_an_error_naming_what_it_is()
    {
        Read(Encoding.UTF8.GetBytes("[\"type.googleapis.com/x\", 3]"), "shape.json", out var bag);
        Assert.Equal(2, bag.Items.Count(d => d.Code == "KM5004"));
        Read(Encoding.UTF8.GetBytes("{\"typeUrl\": \"type.googleapis.com/istio.workload.Address\", \"resources\": {}}"), "shape.json", out bag);
        Assert.Contains("not an array", Assert.Single(bag.Items).Message);
    }

    [Fact]
    public void A_resource_that_does_not_decode_is_named_and_the_rest_is_kept()
    {
        const string Json = """
            {"typeUrl": "type.googleapis.com/istio.security.Authorization", "resources": [
              {"name": "prod/typo", "resource": {"@type": "type.googleapis.com/istio.security.Authorization", "name": "typo", "acton": "DENY"}},
              {"name": "prod/ok", "resource": {"@type": "type.googleapis.com/istio.security.Authorization", "name": "ok", "namespace": "prod"}}]}
            """;
        var w = Read(Encoding.UTF8.GetBytes(Json), "typo.json", out var bag);
        var d = Fixtures.Single(bag, "KM5006", "prod/typo");
        Assert.Contains("acton", d.Message);
        Assert.Equal(["prod/ok"], w.Policies.Select(p => p.Key));
    }

    [Fact]
    public void A_hundred_megabyte_snapshot_reads_in_bounded_time_and_memory()
    {
        // 100 MB: the same small Delta response over and over (each replaces the last), then a frame
        // that lies about its length.
        var one = SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Binary);
        int copies = 100_000_000 / one.Length;
        var bytes = new byte[copies * one.Length + 3];
        for (int i = 0; i < copies; i++) Buffer.BlockCopy(one, 0, bytes, i * one.Length, one.Length);
        bytes[^3] = 0xFF; bytes[^2] = 0x7F; bytes[^1] = 0x00;
        var sw = Stopwatch.StartNew();
        var w = Read(bytes, "big.pb", out var bag);
        sw.Stop();
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(IrEquality.Equal(XdsWorlds.Rich(), w), IrEquality.FirstDifference(XdsWorlds.Rich(), w));
        var d = Assert.Single(bag.Items);
        Assert.Equal("KM5001", d.Code);
        Assert.Equal($"response {2 * copies + 1} at byte {copies * one.Length}", d.Location.Resource);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"took {sw.Elapsed}");
        Assert.True(heap < 400_000_000, $"heap after reading: {heap} bytes");
        GC.KeepAlive(bytes);
    }

    [Fact]
    public void A_hundred_megabytes_of_zeros_is_a_hundred_million_empty_responses()
    {
        var w = Read(new byte[100_000_000], "zeros.pb", out var bag);
        Assert.Empty(bag.Items);
        Assert.True(IrEquality.Equal(World.Empty, w));
    }
}
