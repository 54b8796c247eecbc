"""Annotation's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

import json

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.annotation.v1 import annotation_service_pb2_grpc as pb_grpc
from services.annotation.handlers import Ports, annotations, audit, classes, datasets, exports, imports, items, shapes
from shared import paging
from shared.auth import current_principal
from shared.protos import timestamp


class AnnotationServicer(pb_grpc.AnnotationServiceServicer):
    def __init__(self, ports: Ports):
        self.ports = ports
        self.db = ports.db

    # ---- datasets
    def CreateDataset(self, request, context):
        view = datasets.create_dataset(self.db, current_principal(), request.name, request.description, request.dataset_id)
        return pb.CreateDatasetResponse(dataset=_dataset(view))

    def GetDataset(self, request, context):
        return pb.GetDatasetResponse(dataset=_dataset(datasets.get_dataset(self.db, current_principal(), request.dataset_id)))

    def ListDatasets(self, request, context):
        page, after = datasets.list_datasets(self.db, current_principal(), *paging.requested(request))
        return pb.ListDatasetsResponse(datasets=[_dataset(view) for view in page], next_page_token=paging.next_token(after))

    def ShareDataset(self, request, context):
        view = datasets.share_dataset(self.db, current_principal(), request.dataset_id, request.vendor_id)
        return pb.ShareDatasetResponse(dataset=_dataset(view))

    def UnshareDataset(self, request, context):
        view = datasets.unshare_dataset(self.db, current_principal(), request.dataset_id, request.vendor_id)
        return pb.UnshareDatasetResponse(dataset=_dataset(view))

    # ---- classes, folders, items
    def CreateLabelClass(self, request, context):
        return pb.CreateLabelClassResponse(label_class=classes.create_class(self.db, current_principal(), request))

    def ListLabelClasses(self, request, context):
        page, after = classes.list_classes(self.db, current_principal(), request.dataset_id, *paging.requested(request))
        return pb.ListLabelClassesResponse(label_classes=page, next_page_token=paging.next_token(after))

    def CreateFolder(self, request, context):
        folder = items.create_folder(self.db, current_principal(), request.dataset_id, request.name, request.parent_folder_id)
        return pb.CreateFolderResponse(folder=folder)

    def ListFolders(self, request, context):
        page, after = items.list_folders(self.db, current_principal(), request.dataset_id, *paging.requested(request))
        return pb.ListFoldersResponse(folders=page, next_page_token=paging.next_token(after))

    def ListItems(self, request, context):
        page, after = items.list_items(self.db, current_principal(), request, *paging.requested(request))
        return pb.ListItemsResponse(items=page, next_page_token=paging.next_token(after))

    def GetItem(self, request, context):
        return pb.GetItemResponse(item=items.get_item(self.db, current_principal(), request.item_id))

    def UpdateItem(self, request, context):
        item = items.update_item(self.db, current_principal(), request.item, list(request.update_mask.paths))
        return pb.UpdateItemResponse(item=item)

    # ---- annotations
    def SaveKeySlices(self, request, context):
        annotation_id, version = annotations.save_key_slices(self.ports, current_principal(), request)
        return pb.SaveKeySlicesResponse(annotation_id=annotation_id, version=version)

    def SaveShapes(self, request, context):
        return shapes.save_shapes(self.ports, current_principal(), request)

    def GetAnnotation(self, request, context):
        return annotations.get_annotation(self.ports, current_principal(), request)

    def SubmitAnnotation(self, request, context):
        annotation = annotations.submit(self.ports, current_principal(), request.annotation_id, request.version)
        return pb.SubmitAnnotationResponse(annotation=annotation)

    def ListAnnotationVersions(self, request, context):
        page, after = annotations.list_versions(self.ports, current_principal(), request.annotation_id, *paging.requested(request))
        return pb.ListAnnotationVersionsResponse(versions=page, next_page_token=paging.next_token(after))

    def GetAnnotationDiff(self, request, context):
        return annotations.diff(self.ports, current_principal(), request)

    def RestoreAnnotationVersion(self, request, context):
        return pb.RestoreAnnotationVersionResponse(annotation=annotations.restore(self.ports, current_principal(), request))

    # ---- import, export, audit
    def ImportLabels(self, request, context):
        return imports.import_labels(self.ports, current_principal(), request)

    def StartExport(self, request, context):
        return pb.StartExportResponse(export=exports.start_export(self.ports, current_principal(), request))

    def GetExport(self, request, context):
        return pb.GetExportResponse(export=exports.get_export(self.ports, current_principal(), request.export_id))

    def ListExports(self, request, context):
        page, after = exports.list_exports(self.ports, current_principal(), request.dataset_id, *paging.requested(request))
        return pb.ListExportsResponse(exports=page, next_page_token=paging.next_token(after))

    def ListAuditEvents(self, request, context):
        rows, after = audit.list_events(self.db, current_principal(), request.dataset_id, *paging.requested(request))
        return pb.ListAuditEventsResponse(audit_events=[_audit_event(row) for row in rows], next_page_token=paging.next_token(after))

    def RevokeToken(self, request, context):
        expiry = request.expire_time
        requested = expiry.seconds + expiry.nanos / 1e9 if request.HasField("expire_time") else None
        until = datasets.revoke_token(self.db, self.ports.token_max_ttl_s, current_principal(), request.token_id, requested)
        return pb.RevokeTokenResponse(token_id=request.token_id, expire_time=timestamp(until))



def _dataset(view: datasets.DatasetView) -> pb.Dataset:
    return pb.Dataset(
        dataset_id=view.dataset_id, name=view.name, description=view.description, vendor_ids=view.vendor_ids,
        item_count=view.item_count, creator=view.creator, create_time=timestamp(view.created_at),
    )


def _audit_event(row) -> pb.AuditEvent:
    return pb.AuditEvent(
        audit_event_id=row.audit_event_id, time=timestamp(row.at), actor=row.actor, action=row.action,
        dataset_id=row.dataset_id, item_id=row.item_id, annotation_id=row.annotation_id,
        before_version=row.before_version, after_version=row.after_version, detail=json.dumps(row.detail, sort_keys=True),
    )
