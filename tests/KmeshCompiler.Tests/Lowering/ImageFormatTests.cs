using System.Buffers.Binary;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Lowering;

public class ImageFormatTests
{
    private static byte[] SampleImage()
    {
        var world = WorldGen.World(new Random(42));
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, world.Nodes[0].Name, bag);
        Assert.NotNull(image);
        return image.ToBytes();
    }

    private static CliResult Inspect(byte[] bytes)
    {
        string path = Path.Combine(Path.GetTempPath(), $"kmesh-inspect-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(path, bytes);
        try { return CliRunner.Run("inspect", path); }
        finally { File.Delete(path); }
    }

    private static void Rehash(byte[] b) =>
        Convert.FromHexString(ImageFile.ContentHashOfBody(b.AsSpan(ImageFile.HeaderSize))).CopyTo(b, 48);

    [Fact]
    public void ImageReadsBackToTheSameBytes()
    {
        var bytes = SampleImage();
        var bag = new DiagnosticBag();
        var image = ImageReader.Read("x", bytes, bag);
        Assert.NotNull(image);
        Assert.Equal(bytes, image.ToBytes());
    }

    [Fact]
    public void InspectRendersAGoodImage()
    {
        var r = Inspect(SampleImage());
        Assert.Equal(0, r.Exit);
        Assert.StartsWith("image for node node0\n", r.Out);
        Assert.Contains("km_policies (", r.Out);
        Assert.Equal("", r.Err);
    }

    [Fact]
    public void WrongMagicIsSaid()
    {
        var b = SampleImage();
        b[0] = (byte)'X';
        var r = Inspect(b);
        Assert.Equal(1, r.Exit);
        Assert.Contains("KM7102", r.Err);
        Assert.Contains("not a kmesh image", r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void EmptyAndTextFilesAreNotImages()
    {
        Assert.Contains("KM7101", Inspect([]).Err);
        var r = Inspect("apiVersion: v1\nkind: Pod\n"u8.ToArray());
        Assert.Equal(1, r.Exit);
        Assert.Contains("KM7102", r.Err);
    }

    [Fact]
    public void FutureFormatVersionIsSaid()
    {
        var b = SampleImage();
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), ImageFile.FormatVersion + 1);
        var r = Inspect(b);
        Assert.Equal(1, r.Exit);
        Assert.Contains("KM7103", r.Err);
        Assert.Contains($"format version {ImageFile.FormatVersion + 1}", r.Err);
    }

    [Fact]
    public void FlippedContentByteIsAHashMismatch()
    {
        var b = SampleImage();
        b[b.Length / 2] ^= 0x40;
        var r = Inspect(b);
        Assert.Equal(1, r.Exit);
        Assert.Contains("KM7104", r.Err);
        Assert.Contains("content hash does not match", r.Err);
    }

    [Fact]
    public void CorruptHeaderHashIsAHashMismatch()
    {
        var b = SampleImage();
        b[50] ^= 1;
        Assert.Contains("KM7104", Inspect(b).Err);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(79)]
    [InlineData(81)]
    [InlineData(200)]
    [InlineData(-1)]
    public void TruncatedImageIsSaid(int length)
    {
        var b = SampleImage();
        var cut = b[..(length < 0 ? b.Length - 3 : length)];
        var r = Inspect(cut);
        Assert.Equal(1, r.Exit);
        Assert.Contains("KM7101", r.Err);
        Assert.Contains("truncated", r.Err);
    }

    [Fact]
    public void ImageForAnotherTableLayoutIsRefused()
    {
        var b = SampleImage();
        b[16] ^= 0xff;
        var r = Inspect(b);
        Assert.Equal(1, r.Exit);
        Assert.Contains("KM7106", r.Err);
    }

    [Fact]
    public void ForgedImageWithAbsurdCountsIsCorruptNotACrash()
    {
        var b = SampleImage();
        // The section count sits after the node name; make it huge and fix the hash.
        int nameLen = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(ImageFile.HeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(ImageFile.HeaderSize + 4 + nameLen), 0x7fffffff);
        Rehash(b);
        var r = Inspect(b);
        Assert.Equal(1, r.Exit);
        Assert.Matches("KM710[15]", r.Err);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void TrailingBytesAreCorrupt()
    {
        var b = SampleImage().Concat(new byte[] { 1, 2, 3 }).ToArray();
        Rehash(b);
        var r = Inspect(b);
        Assert.Equal(1, r.Exit);
        Assert.Contains("KM7105", r.Err);
    }

    [Fact]
    public void MissingFileIsAUsageError()
    {
        var r = CliRunner.Run("inspect", "/nonexistent/image.img");
        Assert.Equal(2, r.Exit);
        Assert.Contains("KM9001", r.Err);
    }

    [Fact]
    public void SameWorldInAnyOrderGivesTheSameBytes()
    {
        var world = WorldGen.World(new Random(7), new WorldGenOptions(Policies: 20, Workloads: 20));
        var rng = new Random(1);
        World Shuffle(World w) => new(
            [.. w.Namespaces.OrderBy(_ => rng.Next())], [.. w.Nodes.OrderBy(_ => rng.Next())],
            [.. w.Workloads.OrderBy(_ => rng.Next()).Select(x => x with { AuthorizationPolicies = [.. x.AuthorizationPolicies.OrderBy(_ => rng.Next())] })],
            [.. w.Services.OrderBy(_ => rng.Next())], [.. w.Policies.OrderBy(_ => rng.Next())]);
        foreach (var node in world.Nodes.Select(n => n.Name))
        {
            var a = Lowerer.Lower(world, node, new DiagnosticBag())!.ToBytes();
            for (int i = 0; i < 3; i++)
                Assert.Equal(a, Lowerer.Lower(Shuffle(world), node, new DiagnosticBag())!.ToBytes());
        }
    }
}
