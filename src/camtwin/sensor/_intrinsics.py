"""LLVM intrinsics for the numba kernels of :mod:`camtwin.sensor` (one place for all of
them): bit casts (vectorise), bit counts (one instruction each) and a cache prefetch hint.
None changes a result; each replaces code LLVM would not emit from plain numba."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _bitcast(name, src, dst, ir_dst, doc):
    """An intrinsic ``name`` reinterpreting the bits of a ``src`` scalar as a ``dst`` one
    (LLVM bitcast; ``ir_dst``: its LLVM type)."""

    def cast(typingctx, x):
        if x != src:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir_dst)

        return dst(src), codegen

    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = doc
    return intrinsic(cast)


_f32_bits = _bitcast("_f32_bits", types.float32, types.int32, ir.IntType(32),
                     "The bits of a float32 as an int32 (LLVM bitcast).")
_bits_f32 = _bitcast("_bits_f32", types.int32, types.float32, ir.FloatType(),
                     "The float32 whose bits are an int32 (LLVM bitcast).")
_bits_f64 = _bitcast("_bits_f64", types.int64, types.float64, ir.DoubleType(),
                     "The float64 whose bits are an int64 (LLVM bitcast).")


@intrinsic
def _popcount(typingctx, x):
    """Number of set bits of a uint64 (LLVM ``ctpop``: one popcnt instruction)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64]),
                                            "llvm.ctpop.i64")
        return builder.call(fn, [args[0]])

    return types.uint64(types.uint64), codegen


@intrinsic
def _prefetch(typingctx, arr, idx):  # pragma: no cover - jit
    """``_prefetch(a, i)``: ask the CPU to bring the cache line of ``a[i]`` in (LLVM's
    ``llvm.prefetch``, read, high locality; a hint: no effect on the result)."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                       wraparound=False)
        i32 = ir.IntType(32)
        i8p = ir.IntType(8).as_pointer()        # (one declaration for every dtype)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(arr, idx), codegen


@intrinsic
def _cttz(typingctx, x):  # pragma: no cover - jit
    """Number of trailing zero bits of a uint64 (LLVM ``cttz``: one instruction, tzcnt)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]), "llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.IntType(1)(0)])

    return types.uint64(types.uint64), codegen
